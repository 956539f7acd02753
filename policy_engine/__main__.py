"""python -m policy_engine: the command line (the same as the policy-engine command)."""
from .cli import run

if __name__ == "__main__":
    run()
