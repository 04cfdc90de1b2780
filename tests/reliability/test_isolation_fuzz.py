"""Isolation under fuzzing: three users x two extensions, three faces, one dict model.

A hypothesis state machine writes, reads, counts, queries, deletes and
erases through the in-process ctx, the gateway (imperal-sdk's wire protocol)
and the user API (the probe's tools, and the erase of my data), all on the
production server, and compares every answer with a dict model of the six
partitions. It also tries to reach another extension's partition through the
gateway. At the end of every sequence each partition is read whole in process:
nothing may ever have been returned, counted, changed or deleted across
partitions. Each sequence works in a collection of its own, so sequences
need no database reset.
"""

import itertools
from collections import Counter

import pytest
from asgiref.sync import async_to_sync
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)

from .live import (
    APPS,
    api_token,
    http,
    in_process,
    platform_server,
    registry,
    service_token,
)

__all__ = ["platform_server", "registry"]  # fixtures
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
USERS = ("alice", "bob", "charlie")
FACES = ("inprocess", "gateway", "api")
SEQUENCES = 500
STEPS = 6
DOC_IDS = st.sampled_from(["a", "b", "c"])
STORE = "/v1/internal/store"


class Faces:
    """One user's view of one extension through each face."""

    def __init__(self, ctx, gateway, api, app_id, user_id):
        self.ctx, self.gateway, self.api = ctx, gateway, api
        self.app_id, self.user_id = app_id, user_id
        self.acting = {"X-Acting-User": user_id}

    def tool(self, name, **params):
        response = self.api.post(
            f"/api/v1/extensions/{self.app_id}/tools/{name}/call",
            json={"params": params},
        )
        assert response.status_code == 200, response.text
        return response.json()["result"]

    def write(self, face, collection, doc_id, value, exists):
        if face == "inprocess":
            async_to_sync(self.ctx.store.set)(f"{collection}/{doc_id}", {"v": value})
        elif face == "api":
            assert self.tool("put", collection=collection, key=doc_id, value=value)
        elif exists:
            response = self.gateway.patch(
                f"{STORE}/{collection}/{doc_id}",
                json={"data": {"v": value}},
                headers=self.acting,
            )
            assert response.status_code == 200, response.text
        else:
            body = {"collection": collection, "data": {"doc_id": doc_id, "v": value},
                    "user_id": self.user_id, "extension_id": self.app_id}  # fmt: skip
            response = self.gateway.post(STORE, json=body)
            assert response.status_code == 201, response.text

    def read(self, face, collection, doc_id):
        if face == "inprocess":
            doc = async_to_sync(self.ctx.store.get)(collection, doc_id)
            return None if doc is None else doc.data["v"]
        if face == "api":
            return self.tool("peek", collection=collection, key=doc_id)["v"]
        response = self.gateway.get(
            f"{STORE}/{collection}/{doc_id}", headers=self.acting
        )
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        return response.json()["data"]["v"]

    def count(self, face, collection):
        if face == "inprocess":
            return async_to_sync(self.ctx.store.count)(collection)
        if face == "api":
            return self.tool("tally", collection=collection)["count"]
        response = self.gateway.post(
            f"{STORE}/{collection}/count", json={"where": {}}, headers=self.acting
        )
        assert response.status_code == 200, response.text
        return response.json()["count"]

    def query(self, face, collection):
        """Return {doc_id: v} of the collection, as the face answers."""
        if face == "gateway":
            response = self.gateway.post(
                f"{STORE}/{collection}/query",
                json={"where": {}, "limit": 100},
                headers=self.acting,
            )
            assert response.status_code == 200, response.text
            return {doc["id"]: doc["data"]["v"] for doc in response.json()["data"]}
        page = async_to_sync(self.ctx.store.query)(collection, limit=100)
        return {doc.id: doc.data["v"] for doc in page.data}

    def delete(self, face, collection, doc_id):
        """Delete through the face; return whether a document was deleted."""
        if face == "gateway":
            response = self.gateway.delete(
                f"{STORE}/{collection}/{doc_id}", headers=self.acting
            )
            assert response.status_code in (200, 404), response.text
            return response.status_code == 200
        return async_to_sync(self.ctx.store.delete)(collection, doc_id)

    def erase(self):
        response = self.api.delete("/api/v1/me/data", params={"extension": self.app_id})
        assert response.status_code == 200, response.text


def build_faces(server, registry, users):
    """Return {(app_id, user_id): Faces} and the clients to close."""
    clients, faces = [], {}
    for app_id in APPS:
        gateway = http(server, service=service_token(server, app_id))
        clients.append(gateway)
        for user in users:
            api = http(server, token=api_token(server, user))
            clients.append(api)
            ctx = in_process(registry, app_id, user.imperal_id)
            faces[app_id, user.imperal_id] = Faces(
                ctx, gateway, api, app_id, user.imperal_id
            )
    return faces, clients


def isolation_machine(faces, collections, steps):
    partitions = st.sampled_from(sorted(faces))
    face_names = st.sampled_from(FACES)

    class Isolation(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.collection = next(collections)
            self.model = {key: {} for key in faces}

        @rule(
            part=partitions, face=face_names, doc_id=DOC_IDS, value=st.integers(0, 99)
        )
        def write(self, part, face, doc_id, value):
            steps["write"] += 1
            docs = self.model[part]
            faces[part].write(face, self.collection, doc_id, value, doc_id in docs)
            docs[doc_id] = value

        @rule(part=partitions, face=face_names, doc_id=DOC_IDS)
        def read(self, part, face, doc_id):
            steps["read"] += 1
            got = faces[part].read(face, self.collection, doc_id)
            assert got == self.model[part].get(doc_id)

        @rule(part=partitions, face=face_names)
        def count(self, part, face):
            steps["count"] += 1
            assert faces[part].count(face, self.collection) == len(self.model[part])

        @rule(part=partitions, face=st.sampled_from(["inprocess", "gateway"]))
        def query(self, part, face):
            steps["query"] += 1
            assert faces[part].query(face, self.collection) == self.model[part]

        @rule(part=partitions, face=st.sampled_from(["inprocess", "gateway"]),
              doc_id=DOC_IDS)  # fmt: skip
        def delete(self, part, face, doc_id):
            steps["delete"] += 1
            deleted = faces[part].delete(face, self.collection, doc_id)
            assert deleted == (doc_id in self.model[part])
            self.model[part].pop(doc_id, None)

        @precondition(lambda self: any(self.model.values()))
        @rule(part=partitions)
        def erase(self, part):
            steps["erase"] += 1
            faces[part].erase()
            self.model[part] = {}

        @rule(part=partitions, doc_id=DOC_IDS)
        def reach_the_other_extension(self, part, doc_id):
            """A token of one extension naming the other is refused, and writes nothing."""
            steps["reach_the_other_extension"] += 1
            app_id, user_id = part
            other = next(app for app in APPS if app != app_id)
            body = {"collection": self.collection, "data": {"doc_id": doc_id, "v": -1},
                    "user_id": user_id, "extension_id": other}  # fmt: skip
            response = faces[part].gateway.post(STORE, json=body)
            assert response.status_code == 403, response.text

        def teardown(self):
            for part, face in faces.items():
                assert face.query("inprocess", self.collection) == self.model[part]

    return Isolation


def test_no_operation_on_any_face_reaches_another_partition(
    platform_server, registry, alice, bob, charlie
):
    faces, clients = build_faces(platform_server, registry, (alice, bob, charlie))
    collections = (f"fuzz{n}" for n in itertools.count())
    steps = Counter()
    machine = isolation_machine(faces, collections, steps)
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=SEQUENCES,
                stateful_step_count=STEPS,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    finally:
        for client in clients:
            client.close()
    used = next(collections)
    assert int(used.removeprefix("fuzz")) >= SEQUENCES  # every sequence ran
    print(f"isolation fuzz: {SEQUENCES} sequences, steps {dict(steps)}")  # pytest -s
