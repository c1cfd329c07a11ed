"""``casebot web`` as an operator starts it: the web surfaces alone, on
``CASEBOT_HTTP_PORT``, logging JSON with ``CASEBOT_LOG_FORMAT=json``."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import aiohttp

from tests.harness import CONFIG_PATH

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_casebot_web_serves_the_dashboard_and_operators_alone(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "CASEBOT_HTTP_PORT": str(port),
        "CASEBOT_LOG_FORMAT": "json",
        "CASEBOT_SECRET_KEY": "cli-test-key",
        "CASEBOT_KB_DIR": str(tmp_path / "none"),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "entrypoints.cli",
        "web",
        "--config",
        str(CONFIG_PATH),
        "--database-url",
        f"sqlite:///{tmp_path / 'web.db'}",
        cwd=ROOT,
        env=env,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as client:
            for _ in range(150):
                try:
                    async with client.get(url + "/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            async with client.get(url + "/readyz") as r:
                assert r.status == 200 and (await r.json())["database"] == {"ok": True}
            async with client.get(url + "/dashboard") as r:
                assert r.status == 401  # served, and shut without a session
            async with client.get(url + "/metrics") as r:
                assert "casebot_timers_overdue" in await r.text()
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    lines = [json.loads(line) for line in err.decode().splitlines() if line.startswith("{")]
    assert any(line.get("event", "").startswith("http: listening on") for line in lines), err
