"""Running `python -m slaspec`: command-line arguments -> the CLI's exit code."""

from slaspec.cli import entry

if __name__ == "__main__":
    entry()
