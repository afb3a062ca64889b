from reconcile import __version__
from reconcile.cli.main import COMMANDS, main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"reconcile {__version__}"


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_exits_1_not_2(capsys):
    assert main(["frobnicate"]) == 1
    assert "No such command 'frobnicate'" in capsys.readouterr().err
