"""Service-to-service OAuth: the client_credentials grant, with the token handled for you.

The transport fetches a token on the first request, reuses it, refreshes it shortly before it
expires, and when the API rejects it anyway (revoked, server restarted...) gets a new one and
replays the request once. Against a real OAuth server on 127.0.0.1.
Run: ``python examples/client_credentials.py``.
"""

from __future__ import annotations

import socket
import threading
import time

import httpx
from joserfc.jwk import RSAKey

import httpx_remedy as remedy
from httpx_remedy.testing import OAuthServer


def use(server: OAuthServer, creds: remedy.ClientCredentials) -> None:
    transport = remedy.RemedyTransport(credentials=creds)
    with httpx.Client(base_url=server.url, transport=transport) as client:
        before = server.token_requests
        for _ in range(3):
            client.get("/api/items")
        # Three calls, one token: it is cached until it is about to expire.
        print("  3 calls ->", server.token_requests - before, "token request")
        how = server.token_log[-1].client_auth
        print("  the server saw the client authenticate with", how)

        # The server forgets every token. The next call gets a 401 invalid_token; the
        # transport fetches one new token and sends the same request again.
        server.expire_all()
        before, calls = server.token_requests, server.api_requests
        response = client.get("/api/items")
        seen = [c.status for c in server.api_log[calls:]]
        print(f"  after expire_all(): {response.status_code}, the API answered {seen},")
        print("  fixed with", server.token_requests - before, "token request")


def main() -> None:
    with OAuthServer() as server:
        # 1. client_secret_basic (the default): id and secret in an Authorization: Basic header.
        server.add_client("basic-app", "basic-secret-0123456789", scope="read write")
        print("client_secret_basic")
        creds = remedy.ClientCredentials(
            server.token_url, "basic-app", "basic-secret-0123456789", scope="read"
        )
        use(server, creds)

        # 2. client_secret_post: the same secret, sent in the form body instead. Use the one
        # your authorization server registered the client with.
        server.add_client("post-app", "post-secret-0123456789", auth_method="client_secret_post")
        print("\nclient_secret_post")
        creds = remedy.ClientCredentials(
            server.token_url,
            "post-app",
            "post-secret-0123456789",
            scope="read",
            auth_method="client_secret_post",
        )
        use(server, creds)

        # 3. private_key_jwt (RFC 7523): no shared secret at all. The client signs a short JWT
        # with its private key; the server only knows the public key.
        key = RSAKey.generate_key(2048)
        server.add_client(
            "jwt-app", auth_method="private_key_jwt", public_key=key.as_pem(private=False)
        )
        print("\nprivate_key_jwt")
        creds = remedy.ClientCredentials(
            server.token_url, "jwt-app", private_key=key.as_pem(private=True), scope="read"
        )
        use(server, creds)

    # 4. Proactive refresh: a server whose tokens live 1 second. The transport refreshes a
    # token before it expires (60 s early for long-lived tokens, half-way for short ones), so
    # the API never sees an expired token and no request is wasted on a 401.
    with OAuthServer(expires_in=1) as server:
        server.add_client("app", "app-secret-0123456789")
        creds = remedy.ClientCredentials(server.token_url, "app", "app-secret-0123456789")
        print("\nproactive refresh (tokens valid for 1 s)")
        with httpx.Client(
            base_url=server.url, transport=remedy.RemedyTransport(credentials=creds)
        ) as client:
            for i in range(3):
                if i:
                    time.sleep(0.6)  # past half of the token's lifetime
                client.get("/api/items")
        seen = [c.status for c in server.api_log]
        print("  3 calls, 0.6 s apart ->", server.token_requests, "token requests,")
        print("  the API answered", seen, "(no 401: refreshed before expiry)")

    # 5. Mistakes caught before or at the first token request, typed (both are RemedyErrors).
    print("\nmistakes")
    try:
        remedy.ClientCredentials("http://auth.example.com/token", "app", "app-secret")
    except remedy.InsecureTransportError as e:  # a secret over plain http:// to a real host
        print("  InsecureTransportError:", e)

    # A token_url that is not the token endpoint (a login page answering 200 with HTML).
    def login_page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<html><title>Sign in</title></html>")

    wrong = remedy.ClientCredentials("https://auth.example.com/login", "app", "app-secret")
    transport = remedy.RemedyTransport(httpx.MockTransport(login_page), credentials=wrong)
    with httpx.Client(transport=transport) as client:
        try:
            client.get("https://api.example.com/items")
        except remedy.TokenResponseError as e:
            print("  TokenResponseError, a RemedyError:", isinstance(e, remedy.RemedyError))
            print("  ", e)

    # 6. A token endpoint that accepts the connection and never answers. The token request
    # goes out with the client's timeouts (30 s for each one left unset): the request fetching
    # the token fails with TokenEndpointUnreachable, which is also httpx's timeout error (so
    # `except httpx.TimeoutException` still catches it) and names the token endpoint; every
    # request waiting for that token gives up when its own time is up (its longest timeout, or
    # a deadline you set) with TokenWaitTimeout. Nothing queues behind a stalled token endpoint
    # for ever.
    print("\na token endpoint that never answers (timeout=0.5)")
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        creds = remedy.ClientCredentials(url + "/token", "app", "app-secret-0123456789")
        transport = remedy.RemedyTransport(credentials=creds)
        with httpx.Client(transport=transport, timeout=0.5) as client:
            outcomes: dict[str, BaseException] = {}

            def call(who: str) -> None:
                try:
                    client.get(url + "/api/items")
                except (httpx.TimeoutException, remedy.TokenWaitTimeout) as e:
                    outcomes[who] = e

            fetching = threading.Thread(target=call, args=("fetching",))
            fetching.start()
            time.sleep(0.1)  # the first request holds the token fetch; the second waits for it
            call("waiting")
            fetching.join()
    fetched = outcomes["fetching"]
    print(f"  the request fetching the token: {type(fetched).__qualname__},", end=" ")
    print(len(remedy.attempts_of(fetched)), "attempts")
    if isinstance(fetched, remedy.TokenEndpointUnreachable):
        print("  it names the token endpoint:", fetched.token_url == url + "/token")
    waited = outcomes["waiting"]
    if isinstance(waited, remedy.TokenWaitTimeout):  # it says which limit ran out: waited.cap
        print(f"  the request waiting for it: TokenWaitTimeout after {waited.waited:.1f}s,", end="")
        print(" a TimeoutError:", isinstance(waited, TimeoutError))


if __name__ == "__main__":
    main()
