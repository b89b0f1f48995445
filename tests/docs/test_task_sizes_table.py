"""docs/deploy.md's table of what each task size handles is housing_core/task_sizes.py's output,
so the page says what the sensors and the stack's ApiMemory actually do."""

from pathlib import Path

from housing_core import task_sizes

PAGE = Path(__file__).resolve().parents[2] / "docs/deploy.md"
START, END = "<!-- task-sizes:start -->\n", "<!-- task-sizes:end -->"


def test_the_deploy_page_shows_the_current_task_sizes():
    text = PAGE.read_text()
    shown = text.split(START, 1)[1].split(END, 1)[0]
    assert shown == task_sizes.markdown(), "run `uv run python -m housing_core.task_sizes`"
