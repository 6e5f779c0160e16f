"""The intake baseline: a bare Flask app answering the submission POST with constant JSON, on the same gunicorn settings."""

from __future__ import annotations

from flask import Flask, jsonify, request

ANSWER = {"id": "bench", "done": False, "letters": []}


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/api/v1/submissions")
    def submissions():
        request.get_data()  # read the body, as the real endpoint must
        return jsonify(ANSWER), 202

    @app.get("/healthz")
    def healthz():
        return jsonify({"ok": True})

    return app
