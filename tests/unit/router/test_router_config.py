"""Router config: camelCase wire form, defaults, and errors that name the field and the value."""

from __future__ import annotations

import json

import pytest

from router.config import DEFAULT_PREDICTION_BINS, RouterConfig, parse_config
from router.errors import ConfigError

MINIMAL = 'generation: 4\nupstreams: {stable: "http://model-a:8080/"}\n'


def test_a_minimal_config_sends_everything_to_the_stable() -> None:
    config = parse_config(MINIMAL)
    assert config.generation == 4
    assert config.upstreams.stable == "http://model-a:8080"
    assert (config.weights.stable, config.weights.candidate, config.mirror_percent) == (100, 0, 0)
    assert config.prediction_bins == DEFAULT_PREDICTION_BINS
    assert DEFAULT_PREDICTION_BINS[0] == 0.0 and DEFAULT_PREDICTION_BINS[-1] == 1.0


def test_the_wire_form_is_camel_case_and_round_trips() -> None:
    config = RouterConfig(
        generation=7,
        upstreams={"stable": "http://s:1", "candidate": "https://c:2/prefix"},
        weights={"stable": 75, "candidate": 25},
        mirror_percent=10,
        header_routes=[{"header": "X-Tester", "value": "yes", "variant": "candidate"}],
        sticky={"cookie": "uid", "salt": "ns/name"},
        predictions={"protocol": "jsonpath", "json_path": "$.result[0].score", "tolerance": 0.01},
        retry_candidate_on_stable=True,
    )
    wire = json.loads(config.model_dump_json(by_alias=True))
    assert {"mirrorPercent", "headerRoutes", "retryCandidateOnStable", "maxBodyBytes", "timeoutSeconds"} <= set(wire)
    assert wire["predictions"]["jsonPath"] == "$.result[0].score"
    assert wire["headerRoutes"][0]["header"] == "x-tester"
    assert parse_config(json.dumps(wire)) == config


def test_snake_case_is_accepted_too() -> None:
    config = parse_config('{"generation": 1, "upstreams": {"stable": "http://s"}, "mirror_percent": 0, "max_body_bytes": 5}')
    assert config.max_body_bytes == 5


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        ('generation: 1\nupstreams: {stable: "ftp://x"}', "upstreams.stable", "'ftp://x'"),
        ('generation: 1\nupstreams: {stable: "http://x:99999"}', "upstreams.stable", "port"),
        ('generation: 1\nupstreams: {stable: "http://x", candidate: "http://y"}\nweights: {stable: 90, candidate: 20}', "weights", "110"),
        ('generation: 1\nupstreams: {stable: "http://x"}\nweights: {stable: 90, candidate: 10}', "weights", "upstreams.candidate"),
        ('generation: 1\nupstreams: {stable: "http://x"}\nmirrorPercent: 5', "mirrorPercent", "upstreams.candidate"),
        ('generation: 1\nupstreams: {stable: "http://x", candidate: "http://y"}\nmirrorPercent: 101', "mirrorPercent", "101"),
        ('generation: -1\nupstreams: {stable: "http://x"}', "generation", "-1"),
        ("upstreams: {stable: http://x}", "generation", "Field required"),
        (
            'generation: 1\nupstreams: {stable: "http://x"}\nheaderRoutes: [{header: "bad header", value: v, variant: stable}]',
            "headerRoutes[0].header",
            "bad header",
        ),
        (
            'generation: 1\nupstreams: {stable: "http://x"}\nheaderRoutes: [{header: x-a, value: v, variant: candidate}]',
            "headerRoutes",
            "[0]",
        ),
        ('generation: 1\nupstreams: {stable: "http://x"}\nsticky: {header: x-u, cookie: u}', "sticky", "exactly one"),
        ('generation: 1\nupstreams: {stable: "http://x"}\npredictions: {protocol: jsonpath}', "predictions", "jsonPath"),
        ('generation: 1\nupstreams: {stable: "http://x"}\npredictions: {jsonPath: "a[x]"}', "predictions.jsonPath", "[x]"),
        ('generation: 1\nupstreams: {stable: "http://x"}\npredictions: {tolerance: -0.1}', "predictions.tolerance", "-0.1"),
        ('generation: 1\nupstreams: {stable: "http://x"}\npredictionBins: [0, 0.5, 0.5]', "predictionBins", "[2]"),
        ('generation: 1\nupstreams: {stable: "http://x"}\ntimeoutSeconds: 0', "timeoutSeconds", "0"),
        ('generation: 1\nupstreams: {stable: "http://x"}\nweight: 5', "weight", "Extra inputs"),
    ],
)
def test_an_invalid_config_names_the_field_and_the_value(text: str, path: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.path == path
    assert words in caught.value.message
    assert str(caught.value).startswith(f"{path}: ")


def test_text_that_is_not_a_mapping_is_refused_with_what_it_is() -> None:
    with pytest.raises(ConfigError, match="holds a list; expected a mapping"):
        parse_config("[1, 2]", "router.yaml")
    with pytest.raises(ConfigError, match="neither JSON nor YAML"):
        parse_config("a: [", "router.yaml")


def test_every_problem_is_reported_not_just_the_first() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config('generation: -1\nupstreams: {stable: "http://x"}\nmirrorPercent: 300')
    assert "mirrorPercent" in caught.value.message
