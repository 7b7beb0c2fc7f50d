"""A real MCP client (the official Python SDK, `pip install mcp`) against Baton's MCP server.

Usage:
    client.py stdio COMMAND [ARGS...]   spawn the server and talk to it over stdio
    client.py http URL                  talk to a running server over streamable HTTP

Initializes, lists the tools, stores, searches and reads a memory entry, makes a bad call,
and prints one JSON object summarizing what it saw (to stdout; errors go to stderr).
"""

import asyncio
import json
import sys

try:
    from mcp import ClientSession, StdioServerParameters, stdio_client
    from mcp.client.streamable_http import streamable_http_client
except ImportError as error:  # pragma: no cover - the Rust test reports the install command
    print(f"MISSING_MCP_SDK: {error}", file=sys.stderr)
    sys.exit(3)


def text_of(result):
    return "\n".join(block.text for block in result.content if getattr(block, "type", "") == "text")


async def exercise(read, write):
    async with ClientSession(read, write) as session:
        init = await session.initialize()
        tools = await session.list_tools()
        stored = await session.call_tool(
            "memory_store",
            {
                "key": "pattern-python",
                "value": {"how": "official python sdk round trip"},
                "namespace": "patterns",
                "upsert": True,
            },
        )
        searched = await session.call_tool(
            "memory_search", {"query": "python round trip", "namespace": "patterns", "limit": 5}
        )
        got = await session.call_tool("memory_get", {"key": "pattern-python", "namespace": "patterns"})
        bad = await session.call_tool("memory_search", {"limit": "five"})
        after = await session.call_tool("swarm_status", {})
        search = json.loads(text_of(searched))
        return {
            "protocol_version": str(init.protocol_version),
            "server_name": init.server_info.name,
            "has_instructions": bool(init.instructions),
            "tools": sorted(tool.name for tool in tools.tools),
            "described": all(bool(tool.description) for tool in tools.tools),
            "store_is_error": bool(stored.is_error),
            "search_is_error": bool(searched.is_error),
            "search_hits": [hit["key"] for hit in search["hits"]],
            "search_top_score": search["hits"][0]["score"] if search["hits"] else None,
            "namespaces_searched": search["namespaces_searched"],
            "get_value": json.loads(json.loads(text_of(got))["value"]),
            "bad_is_error": bool(bad.is_error),
            "bad_message": text_of(bad),
            "alive_after_bad": not after.is_error,
        }


async def main(argv):
    if len(argv) >= 2 and argv[0] == "stdio":
        params = StdioServerParameters(command=argv[1], args=argv[2:])
        async with stdio_client(params) as (read, write):
            return await exercise(read, write)
    if len(argv) == 2 and argv[0] == "http":
        async with streamable_http_client(argv[1]) as streams:
            return await exercise(streams[0], streams[1])
    raise SystemExit(__doc__)


if __name__ == "__main__":
    summary = asyncio.run(main(sys.argv[1:]))
    print(json.dumps(summary, sort_keys=True))
