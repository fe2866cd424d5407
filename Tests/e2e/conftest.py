import pytest

from opgnode import DEV_ACCOUNTS, Node


@pytest.fixture(scope="session")
def node():
    """One node shared by the read-mostly tests; each test uses its own dev accounts."""
    n = Node().init().start()
    yield n
    n.stop()


@pytest.fixture(scope="session")
def w3(node):
    return node.web3()


@pytest.fixture
def fresh_node(tmp_path):
    """A node of a test's own, for restart and crash tests."""
    n = Node(workdir=tmp_path / "node").init()
    yield n
    n.kill9()
