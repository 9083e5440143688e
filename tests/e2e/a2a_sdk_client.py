"""An A2A client built on the published A2A Python SDK (a2a-sdk, protocol 1.0), for the e2e
tests: reads the agent card at the URL given, sends one message, streams another, and prints
one JSON object a line: {"kind": "card"|"send"|"stream", ...}."""
import asyncio
import json
import sys
import uuid

import httpx
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types import Message, Part, Role, SendMessageRequest
from google.protobuf.json_format import MessageToDict


def request(text):
    return SendMessageRequest(message=Message(role=Role.ROLE_USER, message_id=str(uuid.uuid4()), parts=[Part(text=text)]))


def emit(kind, **fields):
    print(json.dumps({"kind": kind, **fields}), flush=True)


async def main(base):
    async with httpx.AsyncClient(timeout=30) as http:
        card = await A2ACardResolver(http, base).get_agent_card()
        emit("card", card=MessageToDict(card))
        client = ClientFactory(ClientConfig(streaming=False, httpx_client=http)).create(card)
        async for response in client.send_message(request("hello")):
            emit("send", response=MessageToDict(response))
        client = ClientFactory(ClientConfig(streaming=True, httpx_client=http)).create(card)
        async for event in client.send_message(request("hello stream")):
            emit("stream", payload=event.WhichOneof("payload"), event=MessageToDict(event))


asyncio.run(main(sys.argv[1]))
