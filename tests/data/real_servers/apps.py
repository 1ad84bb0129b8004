"""The Flask and FastAPI apps capture.py serves (not a test)."""

from fastapi import FastAPI, HTTPException, Query
from flask import Flask, abort
from pydantic import BaseModel, Field

flask_app = Flask("capture")


@flask_app.route("/items/<int:n>", methods=["GET", "POST"])
def item(n):
    if n == 0:
        abort(400, description="The price must be positive.")
    if n == 1:
        abort(404)
    if n == 2:
        abort(409, description="Item 2 was changed by another request; reload it and retry.")
    if n == 3:
        abort(400)
    if n == 4:
        raise RuntimeError("boom")
    return {"n": n}


def wsgi_ok(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


api = FastAPI()


class Item(BaseModel):
    name: str
    price: float = Field(gt=0)


class Order(BaseModel):
    items: list[Item]


@api.post("/orders")
def order(order: Order, limit: int = Query()):
    return {"ok": True}


@api.get("/items/{item_id}")
def get_item(item_id: int):
    if item_id == 404:
        raise HTTPException(status_code=404, detail="Item not found")
    if item_id == 403:
        raise HTTPException(
            status_code=403, detail={"code": "quota", "message": "Quota exceeded for project p-1"}
        )
    return {"id": item_id}


async def asgi_ok(scope, receive, send):
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})
