"""The notifications config names what is wrong with it: the file, the field and the value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from controller.notify.config import NotificationsConfigError, load_notifications_config


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("targets: [{name: a, url: 'http://x'}, {name: a, url: 'http://y'}]", "target names must be unique, got ['a', 'a']"),
        ("targets: [{name: a, url: 'http://x'}]\neveryRollout: [{target: b}]", "everyRollout names targets that are not in targets: b"),
        ("targets: [{name: a}]", "target a: set exactly one of url or urlFile"),
        ("targets: [{name: a, url: 'http://x', urlFile: /u}]", "target a: set exactly one of url or urlFile"),
        ("targets: [{name: a, url: 'ftp://x'}]", "targets.0.url"),
        ("targets: [{name: a, url: 'http://x', format: teams}]", "targets.0.format"),
        ("targets: [{name: a, url: 'http://x'}]\neveryRollout: [{target: a, events: [deployed]}]", "everyRollout.0.events.0"),
        ("targets: [{name: a, url: 'http://x', retries: 3}]", "targets.0.retries: Extra inputs are not permitted"),
        ("targets: [unclosed", "notifications config"),
    ],
)
def test_a_bad_config_is_refused_naming_the_field(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "notifications.yaml"
    path.write_text(text)
    with pytest.raises(NotificationsConfigError) as raised:
        load_notifications_config(path)
    assert str(path) in str(raised.value) and complaint in str(raised.value)


def test_the_controller_refuses_a_bad_config_with_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "notifications.yaml"
    path.write_text("targets: [{name: a}]")
    result = subprocess.run([sys.executable, "-m", "controller", "controller", "--notifications-config", str(path)],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2 and "set exactly one of url or urlFile" in result.stdout
