"""The emulator's command line: the admin token from a file (a bind-mounted secret), so that a
controller container needs no token in its environment or arguments."""

import pytest

from saltext.chain.emulator import cli


def test_token_file_is_read_and_stripped(tmp_path):
    path = tmp_path / "token"
    path.write_text("  tok-123\n")
    assert cli.read_token_file(str(path)) == "tok-123"


@pytest.mark.parametrize("content", [None, "", " \n"])
def test_missing_or_empty_token_file_exits_naming_the_path_only(tmp_path, content):
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit, match="admin token file") as exc:
        cli.read_token_file(str(path))
    assert str(path) in str(exc.value)


def test_token_file_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("JENKINS_EMULATOR_ADMIN_TOKEN_FILE", "/run/secrets/t")
    monkeypatch.delenv("JENKINS_EMULATOR_ADMIN_TOKEN", raising=False)
    args = cli.build_parser().parse_args(["serve", "--home", str(tmp_path)])
    assert args.admin_token_file == "/run/secrets/t" and args.admin_token is None


def test_unreadable_token_file_stops_serve_before_listening(tmp_path):
    args = cli.build_parser().parse_args(
        ["serve", "--home", str(tmp_path), "--admin-token-file", str(tmp_path / "absent")]
    )
    with pytest.raises(SystemExit, match="cannot read the admin token file"):
        cli.serve(args)
