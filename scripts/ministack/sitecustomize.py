"""Loaded by MiniStack's interpreter only: apigw_local.py puts this folder on its PYTHONPATH.

MiniStack 1.5.33's Lambda Runtime API writes a response's headers and body in two writes on a
socket without TCP_NODELAY, so Nagle's algorithm holds the body until the runtime's delayed ACK:
about 50 ms per invocation. With Nagle off it is about 7 ms.
"""
import socketserver

socketserver.StreamRequestHandler.disable_nagle_algorithm = True
