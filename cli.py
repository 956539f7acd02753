"""The `policy-engine` command line, runnable from a checkout as `python3 cli.py ...`.

The code is in policy_engine/cli.py (installed as the `policy-engine` script and as
`python -m policy_engine`); this file only starts it.
"""
from policy_engine.cli import run

if __name__ == "__main__":
    run()
