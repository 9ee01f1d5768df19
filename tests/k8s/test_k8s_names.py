"""Deterministic, DNS-safe names and the standard labels."""

from __future__ import annotations

import re

import pytest

from locus.k8s.labels import code_server_name, dns_name, label_value, owner_reference, standard_labels

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def test_code_server_name_is_the_location_with_a_prefix() -> None:
    assert code_server_name("seed-examples") == "locus-codeserver-seed-examples"
    assert code_server_name("seed-examples") == code_server_name("seed-examples")


@pytest.mark.parametrize("location", ["My_Location", "a.b.c", "x" * 200, "--weird--", "UPPER", "ünïcode"])
def test_every_name_is_a_dns_label(location: str) -> None:
    name = code_server_name(location)
    assert len(name) <= 63
    assert DNS_LABEL.match(name), name
    assert name == code_server_name(location)  # deterministic


def test_rewritten_or_truncated_names_do_not_collide() -> None:
    assert code_server_name("My_Loc") != code_server_name("my-loc")
    assert code_server_name("a" * 100 + "1") != code_server_name("a" * 100 + "2")
    assert dns_name("locus", "fine") == "locus-fine"


def test_label_values_are_valid_even_from_long_names() -> None:
    value = label_value("loc/" + "z" * 100)
    assert len(value) <= 63
    assert re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?", value)
    assert label_value("seed_examples.v1") == "seed_examples.v1"


def test_standard_labels_cannot_be_overridden_by_extra_labels() -> None:
    labels = standard_labels("default", "api", extra={"app.kubernetes.io/name": "other", "team": "data"})
    assert labels == {
        "app.kubernetes.io/name": "locus",
        "app.kubernetes.io/instance": "default",
        "app.kubernetes.io/component": "api",
        "app.kubernetes.io/managed-by": "locus-operator",
        "team": "data",
    }
    assert "locus.dev/location" in standard_labels("seed", "codeserver", location="seed")


def test_owner_reference_makes_the_custom_resource_the_controller() -> None:
    assert owner_reference("Instance", "default", "uid-1") == {
        "apiVersion": "locus.dev/v1alpha1",
        "kind": "Instance",
        "name": "default",
        "uid": "uid-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }
