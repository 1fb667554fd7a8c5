"""Creates the credentials scripts/api-fuzz runs with; prints `tenant admin_key client_key`."""

import json
import sys
import urllib.request


def call(base: str, token: str, method: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def main(base: str, operator: str) -> None:
    created = call(base, operator, "POST", "/api/v1/admin/tenants", {"name": "Fuzz"})
    tenant = created["tenant"]["id"]
    admin = created["admin_api_key"]["secret"]
    call(base, admin, "POST", "/api/v1/admin/licenses", {"product": "Fuzz", "seats_total": 5})
    client = call(base, admin, "POST", "/api/v1/admin/api-keys", {"name": "fuzz", "scopes": ["client"]})
    print(tenant, admin, client["secret"])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
