"""`make lab`: a headless JupyterLab server answers its API and runs a notebook in a real kernel."""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def _lab(tmp_path, notebook_dir):
    port, token = _free_port(), uuid.uuid4().hex
    env = dict(os.environ, JUPYTER_PREFER_ENV_PATH="1", JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"))
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(tmp_path / "workspaces")  # no saved layout
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--notebook-dir={notebook_dir}",
            "--ServerApp.open_browser=False",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp, for the browser test
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


@pytest.fixture()
def lab_server(tmp_path, repo_root):
    with _lab(tmp_path, repo_root / "notebooks") as server:
        yield server


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


def _chromium() -> str | None:
    import shutil

    return next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)


class _Page:
    """A headless chromium page driven through the DevTools protocol (websocket-client)."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=60)
        self.next_id = 0

    def call(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                           returnByValue=True)  # fmt: skip
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, seconds: float = 90.0):
        deadline = time.time() + seconds
        while time.time() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {expression}")


def test_lab_in_a_real_browser_opens_notebook_05_on_the_project_kernel(tmp_path, repo_root):
    import shutil

    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium (`.ci/run` installs Debian's chromium when it can)")
    copy = tmp_path / "notebooks"  # a copy: Lab's autosave must not touch the committed one
    copy.mkdir()
    shutil.copy(repo_root / "notebooks" / "05_mnist_multi_tile.ipynb", copy)
    with _lab(tmp_path, copy) as (base, token, _):
        _drive_browser(browser, base, token, tmp_path, repo_root)


def _drive_browser(browser, base, token, tmp_path, repo_root):
    debug_port = _free_port()
    profile_dir = tmp_path / "chromium-profile"
    proc = subprocess.Popen(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
         f"--remote-debugging-port={debug_port}", "--remote-allow-origins=*",
         f"--user-data-dir={profile_dir}",
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(60):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{debug_port}/json", timeout=2) as r:
                    targets = [t for t in json.loads(r.read()) if t["type"] == "page"]
                if targets:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("chromium did not open its debugging port")
        page = _Page(targets[0]["webSocketDebuggerUrl"])
        page.call("Page.enable")
        page.call("Emulation.setFocusEmulationEnabled", enabled=True)  # headless has no focus
        page.call(
            "Page.navigate", url=f"{base}/lab/tree/05_mnist_multi_tile.ipynb?reset&token={token}"
        )
        notebook = (
            "Array.from(jupyterapp.shell.widgets('main'))"
            ".find(w => w.title.label === '05_mnist_multi_tile.ipynb')"
        )
        page.wait_for(f"!!(window.jupyterapp && {notebook})")
        status = page.wait_for(
            f"(() => {{ const w = {notebook}; const s = w.sessionContext;"
            " return s.kernelDisplayStatus === 'idle' ? s.kernelDisplayName : ''; })()"
        )
        assert status == "Python (analog-tt)", status  # the project kernel
        # a new cell at the end, run from the page: the browser renders the kernel's answer
        page.js(
            f"(async () => {{ const w = {notebook}; jupyterapp.shell.activateById(w.id);"
            " await new Promise(r => setTimeout(r, 500));"
            " w.content.activeCellIndex = w.content.widgets.length - 1;"
            " await jupyterapp.commands.execute('notebook:insert-cell-below');"
            " w.content.activeCell.model.sharedModel.setSource('6 * 7');"
            " await jupyterapp.commands.execute('notebook:run-cell'); return true; })()"
        )
        text = page.wait_for(
            f"(() => {{ const w = {notebook}; const c = w.content.widgets[w.content.widgets.length - 1];"
            " const o = c.node.querySelector('.jp-OutputArea-output');"
            " return o ? o.innerText.trim() : ''; })()"
        )
        assert text == "42", text
        # a tqdm.auto bar (what a run's progress uses) renders as a widget, not as text
        page.js(
            f"(async () => {{ const w = {notebook};"
            " await jupyterapp.commands.execute('notebook:insert-cell-below');"
            " w.content.activeCell.model.sharedModel.setSource("
            "'from tqdm.auto import tqdm\\nfor _ in tqdm(range(3), desc=\"widget check\"): pass');"
            " await jupyterapp.commands.execute('notebook:run-cell'); return true; })()"
        )
        rendered = page.wait_for(
            f"(() => {{ const w = {notebook}; const c = w.content.widgets[w.content.widgets.length - 1];"
            " const bar = c.node.querySelector('.jp-OutputArea-output .widget-progress,"
            ' .jp-OutputArea-output progress, .jp-OutputArea-output [class*="progress"]\');'
            " const text = c.node.querySelector('.jp-OutputArea')?.innerText || '';"
            " return bar ? 'widget ' + text : (text.includes('IProgress') ? 'text ' + text : ''); })()"
        )
        rendered = rendered.replace("\u2007", " ")  # tqdm pads with figure spaces
        assert rendered.startswith("widget") and "widget check: 100%" in rendered, rendered
        shot = page.call("Page.captureScreenshot", format="png")["data"]
        import base64

        out = repo_root / "build" / "lab_notebook_05.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(shot))
        assert out.stat().st_size > 10_000
    finally:
        proc.terminate()
        proc.wait(timeout=30)
