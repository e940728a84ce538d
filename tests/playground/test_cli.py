"""`chainrule playground`: its options, and what it says when it cannot start."""

import builtins
import socket

import pytest

from chainrule.cli import main
from chainrule.errors import UsageError
from chainrule.playground import cli as pg_cli


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as e:
        main(["playground", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for option in ("--port", "--host", "--no-browser", "chainrule[playground]"):
        assert option in out


def test_a_missing_extra_says_how_to_install_it(monkeypatch, capsys):
    real = builtins.__import__

    def no_uvicorn(name, *args, **kwargs):
        if name == "uvicorn":
            raise ModuleNotFoundError("No module named 'uvicorn'", name="uvicorn")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvicorn)
    assert main(["playground", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "needs uvicorn" in err and "pip install 'chainrule[playground]'" in err


def test_a_port_in_use_is_refused_with_help(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["playground", "--no-browser", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"port {port} is in use" in err and f"--port {port + 1}" in err


@pytest.mark.parametrize("argv, says", [(["--port", "70000"], "--port: expected 1 to 65535"),
                                        (["--host", "no.such.host.invalid"], "--host: cannot")])
def test_bad_addresses(argv, says, capsys):
    assert main(["playground", "--no-browser", *argv]) == 2
    assert says in capsys.readouterr().err


def test_serve_is_called_with_the_options(monkeypatch):
    seen = {}
    monkeypatch.setattr("chainrule.playground.server.serve",
                        lambda host, port, open_browser: seen.update(host=host, port=port,
                                                                     open_browser=open_browser))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["playground", "--no-browser", "--port", str(port)]) == 0
    assert seen == {"host": "127.0.0.1", "port": port, "open_browser": False}


def test_loopback():
    assert pg_cli._loopback("127.0.0.1") and pg_cli._loopback("::1")
    assert pg_cli._loopback("localhost") and not pg_cli._loopback("0.0.0.0")
    with pytest.raises(UsageError):
        pg_cli._check_free("256.1.1.1", 80)


def test_serving_beyond_this_machine_is_said_out_loud(monkeypatch, capsys):
    monkeypatch.setattr("chainrule.playground.server.serve", lambda *a, **k: None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["playground", "--no-browser", "--host", "0.0.0.0", "--port", str(port)]) == 0
    assert "other machines can reach the page" in capsys.readouterr().err
