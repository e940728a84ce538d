import pytest
from starlette.testclient import TestClient

from chainrule.playground.server import create_app


@pytest.fixture
def client():
    with TestClient(create_app()) as c:
        yield c
