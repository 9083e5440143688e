"""Serves the public functions of tools.py, the module next to this file, as MCP tools over
streamable HTTP at /mcp, with the official MCP Python SDK's FastMCP.

The wrapper of an MCPServer's spec.inlineTools (kubectl-agents: agents-render's
mcp_server/inline.rs renders it, with the SDK version it runs with). Each function defined in
tools.py whose name does not start with _ becomes one tool: its name is the tool's, its docstring
the description, its type hints the input schema. Anything that keeps the module from serving
ends the process with a non-zero status and the Python error on stderr, so the pod's log says
what to fix.
"""

import argparse
import inspect
import sys
import traceback

from mcp.server.fastmcp import FastMCP

SOURCE = "spec.inlineTools.python"


def public_functions(module):
    """(name, function) of each function defined in `module` (not imported into it) whose name
    does not start with _, in the order of the source."""
    return [
        (name, value)
        for name, value in vars(module).items()
        if not name.startswith("_") and inspect.isfunction(value) and value.__module__ == module.__name__
    ]


def fail(message):
    traceback.print_exc()
    sys.exit(f"{message} (the error is above): fix {SOURCE} and apply the MCPServer again")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True, help="the server's name, told to clients")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    # BaseException: a module that calls sys.exit() at import must not look like a clean stop.
    try:
        import tools
    except BaseException:
        fail(f"{SOURCE} could not be imported")
    functions = public_functions(tools)
    if not functions:
        sys.exit(f"{SOURCE} defines no public function at its top level: define at least one (def name(...):)")

    # Stateless: any replica behind the Service can answer any request, as no session is kept.
    server = FastMCP(args.name, host=args.host, port=args.port, stateless_http=True)
    for name, function in functions:
        try:
            server.add_tool(function, name=name, description=inspect.getdoc(function))
        except Exception:
            fail(f"the function {name} of {SOURCE} cannot be a tool")
    print(f"serving {len(functions)} tools: {', '.join(name for name, _ in functions)}", file=sys.stderr)
    server.run(transport="streamable-http")


if __name__ == "__main__":
    main()
