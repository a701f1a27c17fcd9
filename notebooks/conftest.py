"""nbval settings for the notebook check (``make nbval``).

After a cell's reply, nbval waits only 5 s for each of the cell's output messages and then fails the
cell as timed out. On a loaded 2-core runner, a kernel that has just finished minutes of training can
stay silent that long, so the check failed on cells that had run correctly. The wait is widened here;
a cell that really hangs is still caught by ``--nbval-cell-timeout``.
"""

OUTPUT_TIMEOUT_S = 120


def pytest_collection_modifyitems(items):
    for item in items:
        if hasattr(item, "output_timeout"):
            item.output_timeout = OUTPUT_TIMEOUT_S
