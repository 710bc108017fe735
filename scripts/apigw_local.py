#!/usr/bin/env python3
"""make apigw-local: the service behind every API Gateway front end on your machine, no Docker.

    apigw_local.py            starts MiniStack on 127.0.0.1:APIGW_PORT (default 4566), deploys
                              the zip stack rust-hybrid-api-dev with `make deploy-zip`, adds the
                              other front ends, prints a curl for each, and runs until Ctrl-C,
                              then stops everything it started
    apigw_local.py redeploy   deploys the current code to that running emulator again (make
                              apigw-redeploy); the front ends stay where they are

Everything MiniStack keeps (its state, the function code it unpacks) is in a temporary
directory that is removed when it stops.
"""
import os
import shutil
import signal
import sys
import time

import local_aws
from local_aws import Failure

ENVIRONMENT = "dev"
DEFAULT_PORT = 4566


def port_from_env():
    value = os.environ.get("APIGW_PORT", str(DEFAULT_PORT))
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise Failure(f'invalid APIGW_PORT="{value}": expected a port number from 1 to 65535')
    return int(value)


def interrupt(*_):
    raise KeyboardInterrupt


def serve(port):
    workdir = local_aws.workdir("apigw-local-")
    emulator = local_aws.Emulator(port, workdir)
    # Ctrl-C or a SIGTERM stops it at any point, even where a shell started it with SIGINT ignored.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, interrupt)
    try:
        local_aws.build_zip()
        emulator.start()
        print(f"apigw-local: MiniStack on {emulator.endpoint} (pid {emulator.process.pid}); deploying {local_aws.stack_name(ENVIRONMENT)}",
              flush=True)
        outputs = local_aws.deploy(emulator, ENVIRONMENT, "EnableFunctionUrl=true")
        ends = local_aws.front_ends(emulator, outputs, "local")
        print()
        for end in ends:
            print(f"  {end.name:<24} {end.what}")
            print(f"  {'':<24} curl -i '{end.base_url}/health'")
        print(f"\nAfter a code change: make apigw-redeploy (APIGW_PORT={port}), in another terminal. "
              "Ctrl-C stops everything.", flush=True)
        while True:
            if emulator.process.poll() is not None:
                raise Failure(f"MiniStack exited with status {emulator.process.returncode}", emulator.log_tail())
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C (an impatient user, or a wrapper that passes the signal on again) must
        # not cut the clean-up short and leave MiniStack or its folder behind.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        emulator.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        print("apigw-local: stopped", flush=True)


def redeploy(port):
    emulator = local_aws.Emulator(port, workdir=None)
    if local_aws.port_is_free(port):
        raise Failure(f"nothing listens on 127.0.0.1:{port}: start make apigw-local first (APIGW_PORT={port})")
    local_aws.build_zip()
    local_aws.deploy(emulator, ENVIRONMENT, "EnableFunctionUrl=true")
    print(f"apigw-redeploy: {local_aws.stack_name(ENVIRONMENT)} on {emulator.endpoint} runs the current build")


def main():
    try:
        port = port_from_env()
        if sys.argv[1:] == ["redeploy"]:
            redeploy(port)
        elif not sys.argv[1:]:
            serve(port)
        else:
            raise Failure(f"usage: {sys.argv[0]} [redeploy]")
    except Failure as failure:
        local_aws.fail(failure, prefix="apigw-local:")


if __name__ == "__main__":
    main()
