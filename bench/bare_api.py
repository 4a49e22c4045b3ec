"""The bare-FastAPI baseline of the gateway figure: one POST endpoint that parses the same JSON
body and does nothing else, served by uvicorn with the gateway's settings."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/noop", status_code=202)
    def noop(body: dict[str, Any]) -> dict[str, bool]:
        return {"accepted": True}

    @app.get("/livez")
    def livez() -> dict[str, str]:
        return {"status": "ok"}

    return app
