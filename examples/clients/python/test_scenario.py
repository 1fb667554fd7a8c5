"""The original end-to-end scenario, through the client generated from docs/openapi.json only.

A tenant, two licenses (2 and 50 seats) and a client-scope API key are made through the
generated admin operations; then: acquire, acquire, a third acquire → 402 `no_seats_available`,
release one, the third → 200, heartbeat → a fresh token, release, and a heartbeat of the
released session → 410 `session_expired`. Every lease token is verified offline with PyJWT
pinned to the root keys of `/.well-known/jwks.json`: the tenant's keys
(`/api/v1/tenants/{id}/jwks.json`) are trusted only with the root's certificate, the algorithm
is pinned by the key, and the audience must be the tenant. And an eviction: the README snippet
stops (raises `Evicted`) instead of taking a new seat.
"""

# The snippet in README.md ("Call it from your language") is the region below, verbatim.
# README:python:start
import jwt
from license_server_client import AuthenticatedClient
from license_server_client.api.jwks import jwks, tenant_jwks
from license_server_client.api.leases import acquire, heartbeat, release
from license_server_client.models import AcquireRequest, AcquireResponse, ErrorBody, SessionRequest


class Evicted(Exception):
    """An administrator evicted the session or holds this machine off (403/410 `evicted`):
    stop the application, tell the user the reason, and take no seat before `until`."""

    def __init__(self, error: ErrorBody) -> None:
        super().__init__(f"evicted by an administrator: {error.reason}")
        self.reason, self.until = error.reason, error.until  # until: absent without a hold-off


def tenant_keys(api: AuthenticatedClient, tenant_id: str, issuer: str) -> dict[str, jwt.PyJWK]:
    roots = jwt.PyJWKSet.from_dict(jwks.sync(client=api).to_dict())  # pin these: ship them in your app
    keys = {}
    for certificate in tenant_jwks.sync(tenant_id, client=api).certificates:  # the root certifies each key
        root = roots[jwt.get_unverified_header(certificate)["kid"]]
        cert = jwt.decode(certificate, root, algorithms=[root.algorithm_name], issuer=issuer, subject=tenant_id)
        key = jwt.PyJWK(cert["cnf"]["jwk"])
        keys[key.key_id] = key
    return keys


def hold_a_seat(server: str, client_key: str, license_key: str, tenant_id: str, issuer: str = "license-server"):
    api = AuthenticatedClient(base_url=server, token=client_key)
    lease = acquire.sync(client=api, body=AcquireRequest(license_key=license_key, hardware_id="pc-1"))
    if isinstance(lease, ErrorBody) and lease.code == "evicted":  # 403: held off after an eviction
        raise Evicted(lease)  # stop: no retry before lease.until
    if not isinstance(lease, AcquireResponse):  # an ErrorBody, e.g. 402 no_seats_available
        raise RuntimeError(lease)
    key = tenant_keys(api, tenant_id, issuer)[jwt.get_unverified_header(lease.token)["kid"]]  # the kid picks the key,
    claims = jwt.decode(lease.token, key, algorithms=[key.algorithm_name], issuer=issuer, audience=tenant_id)  # the key the algorithm
    session = SessionRequest(session_id=lease.session_id, session_secret=lease.session_secret)  # a secret if the license asks
    renewed = heartbeat.sync(client=api, body=session)  # every lease.heartbeat_interval_seconds
    if isinstance(renewed, ErrorBody) and renewed.code == "evicted":  # 410: an administrator ended it
        raise Evicted(renewed)  # stop the application; do not acquire again
    release.sync(client=api, body=session)
    return claims
# README:python:end


import datetime  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any, TypeVar  # noqa: E402

import pytest  # noqa: E402
from conftest import ISSUER, Server  # noqa: E402
from license_server_client.api.api_keys import create_api_key  # noqa: E402
from license_server_client.api.licenses import create_license, list_licenses  # noqa: E402
from license_server_client.api.sessions import force_release_session  # noqa: E402
from license_server_client.api.tenants import create_tenant  # noqa: E402
from license_server_client.models import (  # noqa: E402
    CreateApiKeyRequest,
    CreatedApiKey,
    CreatedTenant,
    CreateLicenseRequest,
    CreateTenantRequest,
    ErrorBody,
    HeartbeatResponse,
    LicenseDto,
    SessionDto,
    LicensePage,
    ReleaseResponse,
    ScopeDto,
)
from license_server_client.types import Response  # noqa: E402

T = TypeVar("T")


def expect(response: Response[Any], status: int, kind: type[T]) -> T:
    """The parsed body of a response that must have this status and this generated type."""
    assert response.status_code == status, (response.status_code, response.content)
    assert isinstance(response.parsed, kind), (type(response.parsed), response.content)
    return response.parsed


@dataclass
class Tenant:
    id: uuid.UUID
    client_key: str
    two_seats: LicenseDto
    fifty_seats: LicenseDto


@pytest.fixture(scope="module")
def tenant(server: Server) -> Tenant:
    """A tenant, its two licenses and a client credential, made through the admin API."""
    operator = AuthenticatedClient(base_url=server.base_url, token=server.operator_token)
    created = expect(
        create_tenant.sync_detailed(
            client=operator, body=CreateTenantRequest(name=f"python-sdk-{uuid.uuid4()}")
        ),
        201,
        CreatedTenant,
    )
    admin = AuthenticatedClient(base_url=server.base_url, token=created.admin_api_key.secret)
    licenses = [
        expect(
            create_license.sync_detailed(
                client=admin, body=CreateLicenseRequest(product="Python SDK test", seats_total=seats)
            ),
            201,
            LicenseDto,
        )
        for seats in (2, 50)
    ]
    assert [lic.seats_total for lic in licenses] == [2, 50]
    # The operator names the tenant it acts on with the declared X-Tenant-Id parameter.
    page = expect(
        list_licenses.sync_detailed(client=operator, x_tenant_id=str(created.tenant.id)),
        200,
        LicensePage,
    )
    assert [lic.id for lic in page.items] == [lic.id for lic in licenses]
    missing = expect(list_licenses.sync_detailed(client=operator), 400, ErrorBody)
    assert missing.code == "invalid_input"
    key = expect(
        create_api_key.sync_detailed(
            client=admin, body=CreateApiKeyRequest(name="python client", scopes=[ScopeDto.CLIENT])
        ),
        201,
        CreatedApiKey,
    )
    assert key.scopes == [ScopeDto.CLIENT]
    return Tenant(created.tenant.id, key.secret, *licenses)


class Verifier:
    """Offline lease-token verification with PyJWT, pinned to the root: one tenant's keys."""

    def __init__(self, api: AuthenticatedClient, tenant_id: uuid.UUID) -> None:
        self.tenant_id = str(tenant_id)
        self.keys = tenant_keys(api, self.tenant_id, ISSUER)

    def verify(self, token: str, tenant_id: str | None = None) -> dict[str, Any]:
        # The kid only picks the key; the algorithm comes from the key, never from the token.
        key = self.keys.get(jwt.get_unverified_header(token)["kid"])
        if key is None:
            raise jwt.InvalidKeyError("not a key of this tenant")
        decoded = jwt.api_jwt.decode_complete(
            token,
            key,
            algorithms=[key.algorithm_name],
            issuer=ISSUER,
            audience=tenant_id or self.tenant_id,
            options={"require": ["iss", "aud", "sub", "iat", "nbf", "exp"]},
        )
        assert decoded["header"]["typ"] == "license+jwt"
        return decoded["payload"]


def test_the_original_scenario_through_the_generated_client(server: Server, tenant: Tenant) -> None:
    api = AuthenticatedClient(base_url=server.base_url, token=tenant.client_key)
    two = tenant.two_seats.license_key

    def take(license_key: str, hardware_id: str) -> Response[Any]:
        body = AcquireRequest(license_key=license_key, hardware_id=hardware_id)
        return acquire.sync_detailed(client=api, body=body)

    def check_lease(token: str, session_id: uuid.UUID, hardware_id: str, expires_at: datetime.datetime) -> dict[str, Any]:
        claims = verifier.verify(token)
        assert claims["sub"] == str(session_id)
        assert claims["tid"] == claims["aud"] == str(tenant.id)
        assert claims["lic"] == str(tenant.two_seats.id)
        assert claims["hwid"] == hardware_id
        assert claims["exp"] == int(expires_at.timestamp())
        return claims

    # Two seats: two machines get one each.
    first = expect(take(two, "pc-1"), 200, AcquireResponse)
    second = expect(take(two, "pc-2"), 200, AcquireResponse)
    verifier = Verifier(api, tenant.id)  # the tenant's key exists from its first lease
    assert first.session_id != second.session_id
    check_lease(first.token, first.session_id, "pc-1", first.expires_at)
    check_lease(second.token, second.session_id, "pc-2", second.expires_at)
    assert first.heartbeat_interval_seconds > 0

    # A retry from a machine that holds a seat gets its session back, not a second seat.
    assert expect(take(two, "pc-1"), 200, AcquireResponse).session_id == first.session_id

    # The third machine is refused with the documented status and code.
    refused = expect(take(two, "pc-3"), 402, ErrorBody)
    assert refused.code == "no_seats_available", refused

    # Seats are per license: the 50-seat license still grants.
    other = expect(take(tenant.fifty_seats.license_key, "pc-3"), 200, AcquireResponse)
    expect(release.sync_detailed(client=api, body=SessionRequest(session_id=other.session_id)), 200, ReleaseResponse)

    # Release one; now the third machine gets the seat.
    ended = expect(release.sync_detailed(client=api, body=SessionRequest(session_id=first.session_id)), 200, ReleaseResponse)
    assert ended.released_at >= first.expires_at - datetime.timedelta(seconds=tenant.two_seats.ttl_seconds)
    third = expect(take(two, "pc-3"), 200, AcquireResponse)
    check_lease(third.token, third.session_id, "pc-3", third.expires_at)

    # A heartbeat renews the seat with a fresh token for the new expiry.
    renewed = expect(heartbeat.sync_detailed(client=api, body=SessionRequest(session_id=third.session_id)), 200, HeartbeatResponse)
    assert renewed.expires_at > third.expires_at
    check_lease(renewed.token, third.session_id, "pc-3", renewed.expires_at)

    # Release it; a heartbeat of the released session is 410 session_expired: acquire again.
    expect(release.sync_detailed(client=api, body=SessionRequest(session_id=third.session_id)), 200, ReleaseResponse)
    gone = expect(heartbeat.sync_detailed(client=api, body=SessionRequest(session_id=third.session_id)), 410, ErrorBody)
    assert gone.code == "session_expired", gone

    # Releasing again answers the same (release is idempotent); an unknown session is 404.
    expect(release.sync_detailed(client=api, body=SessionRequest(session_id=third.session_id)), 200, ReleaseResponse)
    unknown = expect(heartbeat.sync_detailed(client=api, body=SessionRequest(session_id=uuid.uuid4())), 404, ErrorBody)
    assert unknown.code == "session_not_found", unknown
    expect(release.sync_detailed(client=api, body=SessionRequest(session_id=second.session_id)), 200, ReleaseResponse)


def test_tokens_are_checked_offline(server: Server, tenant: Tenant) -> None:
    api = AuthenticatedClient(base_url=server.base_url, token=tenant.client_key)
    lease = expect(
        acquire.sync_detailed(client=api, body=AcquireRequest(license_key=tenant.fifty_seats.license_key, hardware_id="offline-1")),
        200,
        AcquireResponse,
    )
    try:
        verifier = Verifier(api, tenant.id)
        verifier.verify(lease.token)
        # The token is for this tenant only.
        with pytest.raises(jwt.InvalidAudienceError):
            verifier.verify(lease.token, tenant_id=str(uuid.uuid4()))
        header, payload, signature = lease.token.split(".")
        forged = jwt.utils.base64url_encode(
            jwt.utils.base64url_decode(payload).replace(b'"offline-1"', b'"offline-2"')
        ).decode()
        with pytest.raises(jwt.InvalidSignatureError):
            verifier.verify(f"{header}.{forged}.{signature}")
        key = verifier.keys[jwt.get_unverified_header(lease.token)["kid"]]
        with pytest.raises(jwt.InvalidIssuerError):
            jwt.decode(lease.token, key, algorithms=[key.algorithm_name], issuer="someone-else", audience=str(tenant.id))
        # A token that claims another algorithm is refused: the key pins it.
        with pytest.raises(jwt.InvalidAlgorithmError):
            jwt.decode(lease.token, key, algorithms=["HS256"], issuer=ISSUER, audience=str(tenant.id))
    finally:
        release.sync(client=api, body=SessionRequest(session_id=lease.session_id))


def test_the_readme_snippet(server: Server, tenant: Tenant) -> None:
    claims = hold_a_seat(server.base_url, tenant.client_key, tenant.fifty_seats.license_key, str(tenant.id), issuer=ISSUER)
    assert claims["hwid"] == "pc-1"
    assert claims["lic"] == str(tenant.fifty_seats.id)
    assert claims["aud"] == str(tenant.id)


def test_the_readme_snippet_stops_when_evicted(server: Server) -> None:
    """A held-off machine: the snippet raises `Evicted` with the reason; a heartbeat of the
    evicted session is 410 `evicted`, not `session_expired`."""
    operator = AuthenticatedClient(base_url=server.base_url, token=server.operator_token)
    created = expect(
        create_tenant.sync_detailed(client=operator, body=CreateTenantRequest(name=f"python-evict-{uuid.uuid4()}")),
        201,
        CreatedTenant,
    )
    admin = AuthenticatedClient(base_url=server.base_url, token=created.admin_api_key.secret)
    license = expect(
        create_license.sync_detailed(client=admin, body=CreateLicenseRequest(product="Evict", seats_total=2)),
        201,
        LicenseDto,
    )
    key = expect(
        create_api_key.sync_detailed(client=admin, body=CreateApiKeyRequest(name="c", scopes=[ScopeDto.CLIENT])),
        201,
        CreatedApiKey,
    )
    api = AuthenticatedClient(base_url=server.base_url, token=key.secret)
    lease = expect(
        acquire.sync_detailed(client=api, body=AcquireRequest(license_key=license.license_key, hardware_id="pc-1")),
        200,
        AcquireResponse,
    )
    evicted = expect(
        force_release_session.sync_detailed(
            lease.session_id, client=admin, hold_off_seconds=600, reason="licence audit"
        ),
        200,
        SessionDto,
    )
    assert evicted.eviction.reason == "licence audit"
    gone = expect(heartbeat.sync_detailed(client=api, body=SessionRequest(session_id=lease.session_id)), 410, ErrorBody)
    assert (gone.code, gone.reason) == ("evicted", "licence audit"), gone
    with pytest.raises(Evicted) as raised:
        hold_a_seat(server.base_url, key.secret, license.license_key, str(created.tenant.id), issuer=ISSUER)
    assert raised.value.reason == "licence audit"
    # The ledger's clock decides the hold-off; the session keeps the server's reading of it.
    assert abs(raised.value.until - evicted.eviction.hold_until) < datetime.timedelta(seconds=1)


def test_another_tenants_lease_fails_the_readme_verification(server: Server, tenant: Tenant) -> None:
    """Tenant B's lease, for the same machine, is rejected by tenant A's verification."""
    operator = AuthenticatedClient(base_url=server.base_url, token=server.operator_token)
    other = expect(
        create_tenant.sync_detailed(client=operator, body=CreateTenantRequest(name=f"python-other-{uuid.uuid4()}")),
        201,
        CreatedTenant,
    )
    admin = AuthenticatedClient(base_url=server.base_url, token=other.admin_api_key.secret)
    license = expect(
        create_license.sync_detailed(client=admin, body=CreateLicenseRequest(product="Other", seats_total=1)),
        201,
        LicenseDto,
    )
    key = expect(
        create_api_key.sync_detailed(client=admin, body=CreateApiKeyRequest(name="c", scopes=[ScopeDto.CLIENT])),
        201,
        CreatedApiKey,
    )
    b_api = AuthenticatedClient(base_url=server.base_url, token=key.secret)
    b_lease = expect(
        acquire.sync_detailed(client=b_api, body=AcquireRequest(license_key=license.license_key, hardware_id="pc-1")),
        200,
        AcquireResponse,
    )
    a_api = AuthenticatedClient(base_url=server.base_url, token=tenant.client_key)
    a_keys = tenant_keys(a_api, str(tenant.id), ISSUER)
    assert jwt.get_unverified_header(b_lease.token)["kid"] not in a_keys
    # Even with B's key, A's audience check refuses it.
    b_keys = tenant_keys(b_api, str(other.tenant.id), ISSUER)
    b_key = b_keys[jwt.get_unverified_header(b_lease.token)["kid"]]
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(b_lease.token, b_key, algorithms=[b_key.algorithm_name], issuer=ISSUER, audience=str(tenant.id))
    # B's key set does not pass as A's: its certificates name B.
    with pytest.raises(jwt.exceptions.InvalidSubjectError):
        tenant_keys_for(b_api, str(other.tenant.id), str(tenant.id))


def tenant_keys_for(api: AuthenticatedClient, served_tenant: str, expected_tenant: str) -> None:
    """Checks the certificates of `served_tenant`'s set as if they were `expected_tenant`'s."""
    roots = jwt.PyJWKSet.from_dict(jwks.sync(client=api).to_dict())
    for certificate in tenant_jwks.sync(served_tenant, client=api).certificates:
        root = roots[jwt.get_unverified_header(certificate)["kid"]]
        jwt.decode(certificate, root, algorithms=[root.algorithm_name], issuer=ISSUER, subject=expected_tenant)
