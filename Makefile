# make demo: the main job in a throwaway network namespace.  make test: the whole suite.
# Both set up what they need (system packages via apt-get when missing, a venv in .venv).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
DEBIAN_PACKAGES := iproute2 iptables procps iputils-ping
SANDBOX := OUTER_NETNS=$$(readlink /proc/self/ns/net) unshare --net --mount --propagation private

.PHONY: all demo test unit integration bench deps venv clean

all: test

deps:
	@missing=""; \
	for pair in ip:iproute2 iptables:iptables iptables-save:iptables sysctl:procps ping:iputils-ping; do \
	  tool=$${pair%%:*}; pkg=$${pair#*:}; \
	  PATH="$$PATH:/usr/sbin:/sbin" command -v $$tool >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

demo: deps venv
	$(SANDBOX) sh scripts/demo.sh

test: deps venv
	$(PY) -m pytest -q -p no:cacheprovider tests

unit: venv
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

integration: deps venv
	$(PY) -m pytest -q -p no:cacheprovider tests/integration

bench: deps venv
	-@PATH="$$PATH:/usr/sbin" command -v /usr/lib/cni/bridge >/dev/null 2>&1 || \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containernetworking-plugins >/dev/null 2>&1
	$(SANDBOX) $(PY) scripts/bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
