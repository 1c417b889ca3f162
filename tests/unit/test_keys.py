from tollgate.domain import keys
from tollgate.domain.keys import Principal, Scope


def test_generated_keys_are_prefixed_random_and_stored_only_as_a_hash():
    a, b = keys.generate_key(), keys.generate_key()
    assert a.key.startswith("tg_") and a.key != b.key and a.id != b.id
    key_id, secret = keys.split_key(a.key)
    assert len(secret) >= 43  # 32 random bytes, base64url: 256 bits >= 128
    assert a.key_hash == keys.hash_key(a.key) and a.key not in a.key_hash
    assert keys.key_id_of(a.key) == a.id == key_id


def test_matches_only_the_exact_key():
    k = keys.generate_key()
    assert keys.matches(k.key, k.key_hash)
    assert not keys.matches(k.key + "x", k.key_hash)
    assert not keys.matches(k.key[:-1], k.key_hash)


def test_key_id_rejects_foreign_shapes():
    for bad in ["", "tg_", "sk_live_abc", "tg_zzzzzzzzzzzzzzzz_secret", "tg_0123456789abcdef", "tg_0123_secret"]:
        assert keys.key_id_of(bad) is None


def test_key_from_headers_accepts_bearer_and_x_api_key_case_insensitively():
    assert keys.key_from_headers({"Authorization": "Bearer tg_a"}) == "tg_a"
    assert keys.key_from_headers({"authorization": "bearer  tg_b "}) == "tg_b"
    assert keys.key_from_headers({"X-API-KEY": "tg_c"}) == "tg_c"
    assert keys.key_from_headers({"authorization": "Basic abc"}) is None
    assert keys.key_from_headers({}) is None and keys.key_from_headers(None) is None


def test_redact_never_returns_the_secret():
    k = keys.generate_key()
    assert keys.redact(k.key) == k.id
    assert keys.redact("garbage") == "<malformed>"


def test_principal_round_trips_through_authorizer_context():
    p = Principal("key_0123456789abcdef", Scope.TENANT, "acme")
    assert Principal.from_context(p.as_context()) == p
    assert Principal.from_context({"error": "missing"}) is None
    assert Principal.from_context({"key_id": "k", "scope": "root"}) is None
