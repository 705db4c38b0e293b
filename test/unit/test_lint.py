"""Style: ament's flake8 conventions (line length 99, single quotes), as setup.cfg configures."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_flake8_clean():
    paths = [p for p in ('src', 'test', 'bench', 'launch', 'examples', 'setup.py')
             if (ROOT / p).exists()]
    result = subprocess.run([sys.executable, '-m', 'flake8', *paths], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
