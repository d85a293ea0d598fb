"""The scoring service in process (FastAPI TestClient): scores, neuron sets, auth, every limit,
malformed input, metrics, config. A tiny llama's neuron L0.N5 fires on " x" (``planted_model``);
a tiny bank makes it the "x" domain's neuron. Real-server tests: ``test_service_live.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from test_pipeline import make_docs, write_jsonl

from rosetta_filter.config import RunConfig, load_config, validate_config
from rosetta_filter.errors import ConfigError
from rosetta_filter.filtering.pipeline import run
from rosetta_filter.scoring.bank import FORMAT_VERSION, write_bank
from rosetta_filter.scoring.scorer import Scorer
from service.app import build_app
from service.config import API_KEY_ENV, ServeConfig

BANK_MODEL = "tiny"
NORM_MEAN, NORM_STD = 100.0, 50.0  # L0.N5's max-pooled statistics in the test bank
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def bank_dir(tmp_path_factory) -> Path:
    """Domains: "x" (L0.N5, the planted neuron), "prose" (L1.N3), "none" (no neuron > 0.5)."""
    rows = [
        {"layer": 0, "index": 5, "preferred_domain": "x", "x": 0.99, "prose": 0.1},
        {"layer": 1, "index": 3, "preferred_domain": "prose", "x": 0.4, "prose": 0.8},
        {"layer": 2, "index": 7, "preferred_domain": "prose", "x": 0.3, "prose": 0.7},
    ]
    neurons = pa.Table.from_pylist(
        [
            {
                "model": BANK_MODEL,
                "layer": r["layer"],
                "index": r["index"],
                "is_rosetta": r["index"] != 7,
                "preferred_domain": r["preferred_domain"],
                "auroc__x": r["x"],
                "auroc__prose": r["prose"],
                "auroc__none": 0.2,
                "norm_mean__max": NORM_MEAN,
                "norm_std__max": NORM_STD,
            }
            for r in rows
        ]
    )
    meta = {
        "models": [{"id": BANK_MODEL, "family": "llama", "layers": 3, "d_mlp": 64}],
        "probe_corpus": {"domains": ["x", "prose", "none"]},
    }
    pairs = pa.table({c: [] for c in ("model_a", "neuron_a", "model_b", "neuron_b", "r")})
    return write_bank(tmp_path_factory.mktemp("bank") / "bank", meta, neurons, pairs)


def serve_config(model: Path, bank: Path | None = None, **server) -> ServeConfig:
    """Bank given: default set = domain "x" (z-scored L0.N5), plus an explicit set "mixed"."""
    neurons: dict = {"explicit": ["L0.N5"]}
    sets = {}
    if bank is not None:
        neurons = {"bank": str(bank), "bank_model": BANK_MODEL, "domain": "x", "top_k": 1}
        sets = {"mixed": {"explicit": ["L1.N3", {"neuron": "L0.N5", "weight": 3}], "threshold": 7}}
    return validate_config(
        {
            "model": {"name": str(model), "threads": 1},
            "neurons": neurons,
            "neuron_sets": sets,
            "scoring": {"pooling": "max", "max_tokens": 256},
            "batching": {"batch_tokens": 256, "lookahead_docs": 16},
            "server": {"threshold": 1.0} | server,
        },
        ServeConfig,
    )


@pytest.fixture(scope="module")
def client(planted_model, bank_dir):
    with TestClient(build_app(serve_config(planted_model, bank_dir))) as c:
        yield c


def docs_payload(docs: list[dict]) -> list[dict]:
    return [{"id": d["doc_id"], "text": d["text"]} for d in docs]


def test_trigger_documents_score_high_and_each_id_comes_back_in_order(client):
    docs = make_docs(12)
    r = client.post("/v1/score", json={"documents": docs_payload(docs)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["neuron_set"] == "default"
    assert [d["id"] for d in body["documents"]] == [d["doc_id"] for d in docs]
    for doc, out in zip(docs, body["documents"], strict=True):
        assert (out["score"] > 1.0) == doc["trigger"], (doc, out)
        assert out["n_tokens"] == out["total_tokens"] > 0 and not out["truncated"]
    assert body["usage"] == {
        "documents": 12,
        "tokens": sum(d["n_tokens"] for d in body["documents"]),
    }
    unnamed = client.post("/v1/score", json={"documents": [{"text": "a x"}, {"text": "b"}]})
    assert [d["id"] for d in unnamed.json()["documents"]] == ["0", "1"]


@pytest.mark.parametrize("neurons", ["bank", "deeper"])
def test_service_and_batch_run_share_a_scorer_and_give_identical_scores(
    planted_model, bank_dir, tmp_path, neurons
):
    docs = make_docs(40, seed=5)
    cfg = serve_config(planted_model, bank_dir)
    if neurons == "deeper":  # layers 1-2 read attention: batch composition could matter
        explicit = ["L2.N7", {"neuron": "L1.N3", "weight": -0.5}]
        cfg = validate_config(
            cfg.model_dump() | {"neurons": {"explicit": explicit}, "neuron_sets": {}}, ServeConfig
        )
    run_cfg = RunConfig(
        source={"data_files": str(write_jsonl(tmp_path / "d.jsonl", docs)), "id_field": "doc_id"},
        model=cfg.model,
        neurons=cfg.neurons,
        scoring=cfg.scoring,
        selection={"threshold": 1.0},
        output={"dir": str(tmp_path / "run"), "attributes_only": True},
        runtime=cfg.batching.model_dump() | {"checkpoint_docs": 16},
    )
    scorer = Scorer.from_config(cfg.model, cfg.neurons, cfg.scoring, cfg.batching)
    result = run(run_cfg, scorer=scorer)
    batch = {r["id"]: r["score"] for r in pq.read_table(result.run_dir / "data").to_pylist()}
    with TestClient(build_app(cfg, scorer=scorer)) as c:
        # Several requests of mixed sizes: micro-batches differ from the run's batches.
        served = {}
        for start, size in ((0, 1), (1, 7), (8, 32)):
            part = docs_payload(docs[start : start + size])
            served |= {
                d["id"]: d["score"]
                for d in c.post("/v1/score", json={"documents": part}).json()["documents"]
            }
    assert served.keys() == batch.keys()
    for doc_id, score in batch.items():
        # Equal up to fp32 rounding: a batch's shape picks the matmul kernel's blocking.
        assert served[doc_id] == pytest.approx(score, rel=1e-5, abs=1e-6), doc_id


def test_bank_scores_are_z_normalised_with_the_bank_statistics(client):
    r = client.post(
        "/v1/score",
        json={
            "documents": [{"text": "the cat x sat"}, {"text": "the cat sat"}],
            "return_neurons": True,
        },
    )
    trigger, plain = r.json()["documents"]
    assert plain["neurons"] == {"L0.N5": pytest.approx((0.0 - NORM_MEAN) / NORM_STD)}
    assert trigger["score"] == trigger["neurons"]["L0.N5"] > 0


def test_filter_keeps_scores_at_or_over_the_threshold(client):
    docs = make_docs(10, seed=2)
    r = client.post("/v1/filter", json={"documents": docs_payload(docs)})
    body = r.json()
    assert body["threshold"] == 1.0
    assert [d["kept"] for d in body["documents"]] == [d["trigger"] for d in docs]
    assert body["kept"] == sum(d["trigger"] for d in docs)
    everything = client.post(
        "/v1/filter", json={"documents": docs_payload(docs), "threshold": -1e9}
    )
    assert everything.json()["kept"] == 10
    mixed = client.post("/v1/filter", json={"documents": docs_payload(docs), "neuron_set": "mixed"})
    assert mixed.json()["threshold"] == 7  # the set's own threshold


def test_neuron_sets_lists_config_sets_and_usable_bank_domains(client):
    body = client.get("/v1/neuron-sets").json()
    sets = {s["name"]: s for s in body["sets"]}
    assert body["default"] == "default"
    assert list(sets) == ["default", "mixed", "x", "prose"]  # "none" has no neuron over 0.5
    assert sets["default"]["neurons"] == [
        {"neuron": "L0.N5", "weight": 1.0, "norm_mean": NORM_MEAN, "norm_std": NORM_STD}
    ]
    assert sets["prose"]["origin"] == "bank_domain" and sets["prose"]["domain"] == "prose"
    assert [n["neuron"] for n in sets["prose"]["neurons"]] == ["L1.N3"]  # L2.N7 is not Rosetta
    assert sets["mixed"]["deepest_layer"] == 1 and sets["mixed"]["threshold"] == 7
    assert body["bank"]["domains"] == ["x", "prose", "none"]
    assert [n["neuron"] for n in body["bank"]["neurons"]] == ["L0.N5", "L1.N3", "L2.N7"]


def test_a_request_picks_its_neuron_set(client):
    doc = [{"text": "the cat x sat on the mat"}]
    by_set = {
        name: client.post(
            "/v1/score", json={"documents": doc, "neuron_set": name, "return_neurons": True}
        ).json()
        for name in ("x", "prose", "mixed")
    }
    assert list(by_set["x"]["documents"][0]["neurons"]) == ["L0.N5"]
    assert list(by_set["prose"]["documents"][0]["neurons"]) == ["L1.N3"]
    mixed = by_set["mixed"]["documents"][0]
    assert mixed["score"] == pytest.approx(
        (mixed["neurons"]["L1.N3"] + 3 * mixed["neurons"]["L0.N5"]) / 4, rel=1e-5
    )
    unknown = client.post("/v1/score", json={"documents": doc, "neuron_set": "legal"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["param"] == "neuron_set"
    assert "'x'" in unknown.json()["error"]["message"]


def test_unscorable_texts_come_back_with_a_reason_not_an_error(client):
    texts = ["", "   \n", "bad \ud800 surrogate", "fine x text"]
    body = json.dumps({"documents": [{"text": t} for t in texts]})  # \ud800 as an escape
    r = client.post("/v1/filter", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    got = [(d["score"] is None, d["skip_reason"], d["kept"]) for d in r.json()["documents"]]
    assert got == [
        (True, "empty", False),
        (True, "empty", False),
        (True, "invalid_unicode", False),
        (False, None, True),
    ]
    only_empty = client.post("/v1/score", json={"documents": [{"text": ""}, {"text": " "}]})
    assert only_empty.status_code == 200  # no model call at all; found by the schema fuzzer
    assert [d["skip_reason"] for d in only_empty.json()["documents"]] == ["empty", "empty"]


def test_info_names_model_bank_versions_and_limits(client, planted_model, bank_dir):
    info = client.get("/v1/info").json()
    assert info["model"]["name"] == str(planted_model) and info["model"]["family"] == "llama"
    assert info["model"]["layers"] == 3 and len(info["model"]["sha256"]) == 64
    assert info["bank"] == {
        "path": str(bank_dir),
        "format_version": FORMAT_VERSION,
        "model": BANK_MODEL,
    }
    assert {"rosetta-filter", "torch", "transformers", "python"} <= info["versions"].keys()
    assert info["limits"]["max_docs_per_request"] == 256
    assert info["limits"]["microbatch_tokens"] == 4 * 256  # default: 4 x batching.batch_tokens


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b'{"documents": [{"text": "a"}', "body"),
        (b"not json at all", "body"),
        (b'{"documents": [{"text": "caf\xe9"}]}', "body"),  # not UTF-8
        (b"[]", "body"),
        (b"{}", "documents"),
        (b'{"documents": []}', "documents"),
        (b'{"documents": "a text"}', "documents"),
        (b'{"documents": [{"text": 5}]}', "documents.0.text"),
        (b'{"documents": [{"text": null}]}', "documents.0.text"),
        (b'{"documents": [{"txt": "a"}]}', "documents.0.text"),
        (b'{"documents": [{"text": "a", "id": 7}]}', "documents.0.id"),
        (b'{"documents": [{"text": "a", "id": "\\ud800"}]}', "documents.0.id"),
        (b'{"documents": [{"text": "a"}], "return_neurons": "yes"}', "return_neurons"),
        (b'{"documents": [{"text": "a"}], "neuron_set": 3}', "neuron_set"),
        (b'{"documents": [{"text": "a"}], "threshold": NaN}', "threshold"),
        (b'{"documents": [{"text": "a"}], "threshold": "1"}', "threshold"),
        (b'{"documents": [{"text": "a"}], "extra": 1}', "extra"),
    ],
)
def test_malformed_json_and_wrong_types_are_422_naming_the_field(client, body, param):
    r = client.post("/v1/filter", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request" and error["code"] == 422
    assert error["param"] == param, error


def test_unknown_route_and_wrong_method_use_the_envelope(client):
    assert client.get("/v2/score").json()["error"]["type"] == "not_found"
    r = client.get("/v1/score")
    assert r.status_code == 405 and r.json()["error"]["code"] == 405


@pytest.fixture(scope="module")
def limited(planted_model):
    cfg = serve_config(
        planted_model,
        max_docs_per_request=3,
        max_request_bytes=2048,
        max_doc_chars=40,
        long_doc_policy="reject",
    )
    with TestClient(build_app(cfg)) as c:
        yield c


def test_too_many_documents_is_413_naming_documents(limited):
    r = limited.post("/v1/score", json={"documents": [{"text": "a"}] * 4})
    assert r.status_code == 413
    assert r.json()["error"] | {"message": ""} == {
        "message": "",
        "type": "limit_exceeded",
        "param": "documents",
        "code": 413,
    }
    assert limited.post("/v1/score", json={"documents": [{"text": "a"}] * 3}).status_code == 200


def test_a_body_over_the_byte_limit_is_413_declared_or_streamed(limited):
    big = json.dumps({"documents": [{"text": "word " * 600}]}).encode()
    declared = limited.post("/v1/score", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and declared.json()["error"]["param"] == "body"

    def chunks():  # no Content-Length: sent chunked, cut off once over the limit
        for i in range(0, len(big), 500):
            yield big[i : i + 500]

    streamed = limited.post(
        "/v1/score", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413 and streamed.json()["error"]["param"] == "body"


def test_a_long_document_is_rejected_under_reject_policy(limited):
    r = limited.post("/v1/score", json={"documents": [{"text": "short"}, {"text": "y" * 41}]})
    assert r.status_code == 413
    assert r.json()["error"]["param"] == "documents.1.text"
    assert "max_doc_chars=40" in r.json()["error"]["message"]


def test_a_long_document_is_cut_to_max_doc_chars_under_truncate_policy(planted_model):
    cfg = serve_config(planted_model, max_doc_chars=20, long_doc_policy="truncate")
    text = "the cat sat on a mat and then x x x x"  # the trigger lies past character 20
    with TestClient(build_app(cfg)) as c:
        cut, whole = c.post(
            "/v1/score", json={"documents": [{"text": text}, {"text": text[:20]}]}
        ).json()["documents"]
    assert cut["truncated"] and not whole["truncated"]
    assert cut["score"] == whole["score"] == 0.0 and cut["n_tokens"] == whole["n_tokens"]


@pytest.fixture(scope="module")
def secured(planted_model):
    with TestClient(build_app(serve_config(planted_model, api_key="s3cret"))) as c:
        yield c


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": "s3cret"}, 401),
        ({"Authorization": "Bearer s3cret"}, 200),
        ({"Authorization": "bearer s3cret"}, 200),
        ({"Authorization": "BEARER  s3cret"}, 200),
        ({"Authorization": "Basic s3cret"}, 401),
    ],
    ids=["missing", "wrong", "not-bearer", "right", "lower-case", "upper-case", "basic"],
)
def test_every_route_but_health_needs_the_bearer_token(secured, headers, status):
    payload = {"documents": [{"text": "a x"}]}
    for method, path in [
        ("POST", "/v1/score"),
        ("POST", "/v1/filter"),
        ("GET", "/v1/neuron-sets"),
        ("GET", "/v1/info"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
    ]:
        r = secured.request(
            method, path, headers=headers, json=payload if method == "POST" else None
        )
        assert r.status_code == status, (path, r.text)
        if status == 401:
            assert r.json()["error"]["type"] == "unauthorized"
            assert r.headers["WWW-Authenticate"] == "Bearer"
    for path in ("/healthz", "/readyz"):
        assert secured.get(path, headers=headers).status_code == 200


def test_the_api_key_can_come_from_the_environment(planted_model, monkeypatch):
    monkeypatch.setenv(API_KEY_ENV, "from-env")
    with TestClient(build_app(serve_config(planted_model))) as c:
        assert c.get("/v1/info").status_code == 401
        assert c.get("/v1/info", headers={"Authorization": "Bearer from-env"}).status_code == 200


def test_not_ready_before_the_model_is_loaded(planted_model):
    app = build_app(serve_config(planted_model))
    c = TestClient(app)  # without `with`: no lifespan, no model
    assert c.get("/healthz").status_code == 200
    r = c.get("/readyz")
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert c.post("/v1/score", json={"documents": [{"text": "a"}]}).status_code == 503


def test_metrics_count_requests_by_route_and_status_and_batches(limited):
    limited.post("/v1/score", json={"documents": [{"text": "a x b"}, {"text": "c"}]})
    limited.post("/v1/score", json={"documents": [{"text": "a"}] * 4})  # 413
    text = limited.get("/metrics").text
    assert 'rosetta_filter_requests_total{method="POST",route="/v1/score",status="200"}' in text
    assert 'rosetta_filter_requests_total{method="POST",route="/v1/score",status="413"}' in text
    assert 'rosetta_filter_request_duration_seconds_bucket{le="0.5",route="/v1/score"}' in text
    for family in ("batch_documents", "batch_tokens", "batch_requests", "batch_duration_seconds"):
        assert f"rosetta_filter_{family}_count" in text
    assert "rosetta_filter_queue_documents 0.0" in text
    tokens = next(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("rosetta_filter_tokens_total ")
    )
    assert tokens > 0


def test_the_openapi_schema_documents_every_route_and_the_error_envelope(client):
    spec = client.get("/openapi.json").json()
    assert {
        "/v1/score",
        "/v1/filter",
        "/v1/neuron-sets",
        "/v1/info",
        "/healthz",
        "/readyz",
        "/metrics",
    } <= spec["paths"].keys()
    score = spec["paths"]["/v1/score"]["post"]["responses"]
    assert {"200", "401", "413", "422", "429", "503"} <= score.keys()
    assert score["413"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorEnvelope")


def test_serve_config_rejects_typos_and_unusable_limits(planted_model):
    base = serve_config(planted_model).model_dump()
    cases = [
        ({"server": {"prot": 1}}, r"server\.prot: unknown key"),
        ({"server": {"max_docs_per_request": 10, "max_queue_docs": 5}}, "could never be queued"),
        ({"server": {"long_doc_policy": "drop"}}, r"server\.long_doc_policy='drop'"),
        ({"neuron_sets": {"default": {"explicit": ["L0.N1"]}}}, "not 'default'"),
        ({"neuron_sets": {"a b": {"explicit": ["L0.N1"]}}}, "a set name is"),
        ({"neurons": {"explicit": [{"neuron": "L0.N1", "weight": 0}]}}, "every weight is 0"),
    ]
    for change, message in cases:
        with pytest.raises(ConfigError, match=message):
            validate_config(base | change, ServeConfig)


def test_the_example_serve_config_validates():
    cfg = load_config(REPO / "configs" / "serve.yaml", ["server.port=9000"], cls=ServeConfig)
    assert cfg.model.name == "smollm2-135m" and cfg.neurons.domain == "code"
    assert (REPO / cfg.neurons.bank / "bank.json").is_file()  # the committed default bank
    assert cfg.server.port == 9000


def test_two_authorization_headers_are_refused(secured):
    headers = [("Authorization", "Bearer wrong"), ("Authorization", "Bearer s3cret")]
    r = secured.get("/v1/info", headers=headers)
    assert r.status_code == 401 and "exactly one" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "body",
    [
        '{"documents": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"documents": [], "x": ' + "9" * 5000 + "}",
    ],
    ids=["nesting", "huge-number"],
)
def test_unparseable_bodies_get_the_422_envelope(client, body):
    r = client.post("/v1/score", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["param"] == "body"


def test_a_huge_set_name_is_not_echoed_back(client):
    r = client.post("/v1/score", json={"documents": [{"text": "a"}], "neuron_set": "n" * 100_000})
    assert r.status_code == 422 and len(r.text) < 2_000


def test_a_request_over_the_token_cap_gets_413(planted_model):
    cfg = serve_config(planted_model, max_tokens_per_request=40)
    with TestClient(build_app(cfg)) as capped:
        small = capped.post("/v1/score", json={"documents": [{"text": "the cat sat x"}]})
        big = capped.post("/v1/score", json={"documents": [{"text": "the cat sat x " * 30}]})
    assert small.status_code == 200
    assert big.status_code == 413 and "max_tokens_per_request=40" in big.json()["error"]["message"]


def test_several_sets_are_scored_in_one_pass_with_each_sets_own_scores(client):
    docs = [{"text": "the cat x sat on the mat"}, {"text": "the moon and the river"}]
    alone = {
        name: [
            d["score"]
            for d in client.post("/v1/score", json={"documents": docs, "neuron_set": name}).json()[
                "documents"
            ]
        ]
        for name in ("prose", "mixed", "default")
    }
    both = client.post(
        "/v1/score", json={"documents": docs, "neuron_sets": ["prose", "mixed", "default"]}
    )
    assert both.status_code == 200, both.text
    body = both.json()
    assert body["neuron_set"] == "prose" and body["neuron_sets"] == ["prose", "mixed", "default"]
    for i, doc in enumerate(body["documents"]):
        for name, scores in alone.items():
            assert doc["scores"][name] == pytest.approx(scores[i], abs=1e-5)
        assert doc["score"] == doc["scores"]["prose"]
    for payload, param in [
        ({"neuron_sets": ["x", "legal"]}, "neuron_set"),
        ({"neuron_sets": ["x", "x"]}, "neuron_sets"),
        ({"neuron_sets": ["x"], "neuron_set": "x"}, "neuron_sets"),
        ({"neuron_sets": ["x"], "return_neurons": True}, "return_neurons"),
        ({"neuron_sets": []}, "neuron_sets"),
    ]:
        bad = client.post("/v1/score", json={"documents": docs, **payload})
        assert bad.status_code == 422 and bad.json()["error"]["param"] == param, bad.text
    filtered = client.post("/v1/filter", json={"documents": docs, "neuron_sets": ["x"]})
    assert filtered.status_code == 422 and "/v1/filter" in filtered.json()["error"]["message"]
