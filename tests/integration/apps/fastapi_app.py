"""A FastAPI app: a sync route, an async route, a pydantic body."""

import asyncio
import threading
from typing import List

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Item(BaseModel):
    name: str
    price: float
    tags: List[str] = []


@app.get("/sync")
def sync_route():
    return {"kind": "sync",
            "main_thread": threading.current_thread()
            is threading.main_thread()}


@app.get("/async")
async def async_route():
    await asyncio.sleep(0.01)
    return {"kind": "async",
            "task": asyncio.current_task() is not None}


@app.post("/items")
async def create_item(item: Item):
    return {"name": item.name, "total": item.price * 2, "tags": item.tags}


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str = ""):
    return {"item_id": item_id, "q": q}
