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


def test_max_concurrency_help_gives_the_defaults_each_command_uses(capsys):
    # apply's calls default to the session's 32; a refresh (plan, drift) and an import read with 8 in flight
    from reconcile.cloud.settings import ClientSettings
    from reconcile.engine.refresh import DEFAULT_CONCURRENCY

    assert (ClientSettings.max_concurrency, DEFAULT_CONCURRENCY) == (32, 8)
    for command in ("plan", "drift", "import", "apply"):
        assert main([command, "--help"]) == 0
        help_text = " ".join(capsys.readouterr().out.split())
        assert "(default 32 for apply's calls, 8 for the reads of a refresh or an import;" in help_text
