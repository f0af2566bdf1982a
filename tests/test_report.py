import pandas as pd

from sparsefield.report import learning_markdown


def log(psnrs, start):
    """A train_log with the learning curve every 10 steps (rows in between have no evaluation)."""
    rows = [dict(step=step, loss=0.1) for step in range(1, 10 * len(psnrs) + 1)]
    for i, value in enumerate(psnrs):
        rows[10 * (i + 1) - 1].update(test_psnr_missing=value, classical_psnr=start)
    return pd.DataFrame(rows)


def test_learning_table_reports_gain_and_first_crossing():
    logs = {"b_never": log([20.0, 20.5, 21.0], 22.0), "a_crosses": log([21.0, 23.2, 23.1], 22.0)}
    table = learning_markdown(logs, {"a_crosses": 23.0, "b_never": 23.0})
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert lines[0] == ("| approach | step 10 | step 20 | step 30 | normconv, same images | last − normconv"
                        " | best classical | crosses at |")  # fmt: skip
    assert lines[1] == "| a_crosses | 21.00 | 23.20 | 23.10 | 22.00 | +1.10 | 23.00 | 20 |"
    assert lines[2] == "| b_never | 20.00 | 20.50 | 21.00 | 22.00 | -1.00 | 23.00 | – |"


def test_learning_table_without_a_classical_line():
    table = learning_markdown({"a": log([21.0], 22.0)}, {})
    assert "| a | 21.00 | 22.00 | -1.00 | – | – |" in table
