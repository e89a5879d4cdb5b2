"""`make lab`: a headless JupyterLab server answers its API and runs a notebook in a real kernel."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import nbformat
import pytest

websocket = pytest.importorskip("websocket")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def lab_server(tmp_path, repo_root):
    port, token = _free_port(), uuid.uuid4().hex
    env = dict(os.environ, JUPYTER_PREFER_ENV_PATH="1", JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--notebook-dir={repo_root / 'notebooks'}",
            "--ServerApp.open_browser=False",
            "--allow-root",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 60 s")
        yield base, token, port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _api(base, token, path, method="GET", body=None):
    req = urllib.request.Request(
        f"{base}{path}?token={token}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def _execute(ws, code: str) -> list[str]:
    msg_id = uuid.uuid4().hex
    ws.send(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "username": "test",
                    "session": uuid.uuid4().hex,
                    "version": "5.3",
                },
                "parent_header": {},
                "metadata": {},
                "channel": "shell",
                "buffers": [],
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                },
            }
        )
    )
    outputs = []
    while True:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["msg_type"]
        if kind == "stream":
            outputs.append(msg["content"]["text"])
        elif kind == "error":
            raise AssertionError(
                f"cell failed: {msg['content']['ename']}: {msg['content']['evalue']}"
            )
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            return outputs


def test_lab_answers_and_runs_a_notebook_in_the_project_kernel(lab_server):
    base, token, port = lab_server
    assert "version" in _api(base, token, "/api/status") or _api(base, token, "/api")
    specs = _api(base, token, "/api/kernelspecs")["kernelspecs"]
    assert "analog-tt" in specs or "python3" in specs
    kernel_name = "analog-tt" if "analog-tt" in specs else "python3"
    kernel = _api(base, token, "/api/kernels", "POST", {"name": kernel_name})
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("import numpy as np\nfrom analog_tt.data import make_spiral"),
            nbformat.v4.new_code_cell(
                "X, y = make_spiral(50, rng=np.random.default_rng(0))\nprint(X.shape, y.max())"
            ),
        ]
    )
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{port}/api/kernels/{kernel['id']}/channels?token={token}", timeout=60
    )
    try:
        printed = []
        for cell in nb.cells:
            printed += _execute(ws, cell.source)
    finally:
        ws.close()
        _api(base, token, f"/api/kernels/{kernel['id']}", "DELETE")
    assert "".join(printed).strip() == "(150, 2) 2"
