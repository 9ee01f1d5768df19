"""The run pods' Kubernetes client: credentials as kubectl finds them, and
create / get / list / delete against the local harness's API server."""

from __future__ import annotations

import base64
import dataclasses
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from e2e.local.apiserver import start_in_thread

from locus.k8s.client import (
    JOBS,
    PODS,
    Credentials,
    KubernetesApiError,
    KubernetesClient,
    KubernetesError,
    in_cluster_credentials,
    kubeconfig_credentials,
    load_credentials,
    ssl_context,
)


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("apiserver") / "kubeconfig"
    _url, stop = start_in_thread(kubeconfig=path)
    yield path
    stop()


@pytest.fixture
def client(kubeconfig: Path) -> KubernetesClient:
    """A client whose default namespace is a fresh one."""
    credentials = load_credentials({"KUBECONFIG": str(kubeconfig)})
    namespace = f"t-{uuid.uuid4().hex[:8]}"
    KubernetesClient(credentials).request(
        "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    )
    return KubernetesClient(dataclasses.replace(credentials, namespace=namespace))


def _job(name: str, labels: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never",
                                                          "containers": [{"name": "c", "image": "x"}]}}},
    }


def test_create_get_list_by_label_and_delete(client: KubernetesClient) -> None:
    created = client.create(JOBS, _job("a", {"run": "r1", "step": "one"}))
    assert created["metadata"]["namespace"] == client.namespace and created["metadata"]["uid"]
    client.create(JOBS, _job("b", {"run": "r1", "step": "two"}))
    client.create(JOBS, _job("c", {"run": "r2"}))

    assert client.get(JOBS, "a")["metadata"]["labels"] == {"run": "r1", "step": "one"}  # type: ignore[index]
    assert client.get(JOBS, "missing") is None
    assert sorted(j["metadata"]["name"] for j in client.list(JOBS, label_selector={"run": "r1"})) == ["a", "b"]
    assert [j["metadata"]["name"] for j in client.list(JOBS, label_selector="run=r1,step=two")] == ["b"]
    assert len(client.list(JOBS)) == 3

    assert client.delete(JOBS, "a") is True
    assert client.delete(JOBS, "a") is False  # already gone: not an error
    assert client.get(JOBS, "a") is None


def test_errors_carry_status_reason_and_message(client: KubernetesClient) -> None:
    client.create(JOBS, _job("dup", {}))
    with pytest.raises(KubernetesApiError) as caught:
        client.create(JOBS, _job("dup", {}))
    assert caught.value.status == 409 and caught.value.already_exists
    assert caught.value.reason == "AlreadyExists" and "dup" in caught.value.message

    with pytest.raises(KubernetesApiError) as caught:
        client.request("GET", "/api/v1/namespaces/nowhere/pods/nothing")
    assert caught.value.not_found and caught.value.reason == "NotFound"


def test_unreachable_server_is_an_api_error_with_status_0() -> None:
    client = KubernetesClient(Credentials(server="http://127.0.0.1:9"), timeout=2)
    with pytest.raises(KubernetesApiError) as caught:
        client.list(PODS)
    assert caught.value.status == 0 and caught.value.reason == "Unreachable"


def test_delete_propagates_to_pods_the_job_owns(client: KubernetesClient) -> None:
    job = client.create(JOBS, _job("owner", {}))
    owner = {"apiVersion": "batch/v1", "kind": "Job", "name": "owner", "uid": job["metadata"]["uid"]}
    client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": "owned", "ownerReferences": [owner]},
                         "spec": {"containers": [{"name": "c", "image": "x"}]}})
    assert client.delete(JOBS, "owner", propagation="Background")
    assert client.get(PODS, "owned") is None


# -- credentials ----------------------------------------------------------------


def test_in_cluster_service_account(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("tok\n")
    (tmp_path / "namespace").write_text("data")
    (tmp_path / "ca.crt").write_text("-")
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    creds = in_cluster_credentials(env, tmp_path)
    assert creds == Credentials(server="https://10.0.0.1:443", namespace="data",
                                token_file=str(tmp_path / "token"), ca_file=str(tmp_path / "ca.crt"))
    assert in_cluster_credentials({}, tmp_path) is None
    # KUBECONFIG, when set, wins over the service account (as kubectl).
    assert load_credentials(env, tmp_path) == creds


def test_kubeconfig_current_context_relative_paths_and_merge(tmp_path: Path) -> None:
    first = tmp_path / "a" / "config"
    first.parent.mkdir()
    first.write_text(yaml.safe_dump({
        "current-context": "prod",
        "clusters": [{"name": "c", "cluster": {"server": "https://k8s.example:6443/",
                                               "certificate-authority": "ca.pem"}}],
        "users": [{"name": "u", "user": {"token": "t1", "client-key-data": base64.b64encode(b"KEY").decode()}}],
        "contexts": [{"name": "prod", "context": {"cluster": "c", "user": "u", "namespace": "jobs"}}],
    }))
    second = tmp_path / "second"
    second.write_text(yaml.safe_dump({
        "current-context": "other",
        "clusters": [{"name": "c", "cluster": {"server": "https://ignored"}}],
        "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "nobody"}}],
    }))
    creds = load_credentials({"KUBECONFIG": f"{first}:{second}"})
    assert creds.server == "https://k8s.example:6443"
    assert creds.namespace == "jobs" and creds.token == "t1"
    assert creds.ca_file == str(first.parent / "ca.pem")
    assert creds.client_key_data == "KEY"
    assert kubeconfig_credentials([first, second], context="dev").namespace == "default"


def test_kubeconfig_problems_are_explained(tmp_path: Path) -> None:
    with pytest.raises(KubernetesError, match="no kubeconfig found"):
        kubeconfig_credentials([tmp_path / "missing"])
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump({
        "current-context": "x",
        "clusters": [{"name": "c", "cluster": {"server": "https://s"}}],
        "users": [{"name": "u", "user": {"exec": {"command": "aws"}}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    }))
    with pytest.raises(KubernetesError, match="exec or auth-provider"):
        kubeconfig_credentials([path])
    with pytest.raises(KubernetesError, match="context 'y' not found"):
        kubeconfig_credentials([path], context="y")


def test_tls_with_ca_data_and_client_certificate_data(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=locus-test"], check=True, capture_output=True)
    creds = Credentials(server="https://s", ca_data=cert.read_text(), client_cert_data=cert.read_text(),
                        client_key_data=key.read_text())
    context = ssl_context(creds)
    assert context.check_hostname and context.cert_store_stats()["x509_ca"] == 1
    insecure = ssl_context(Credentials(server="https://s", insecure=True))
    assert not insecure.check_hostname
