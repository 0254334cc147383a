# CRM — one plain Makefile. Variants: build/release (make, make run),
# build/asan (make test: ASan+UBSan), build/fuzz (clang + libFuzzer),
# build/coverage (make coverage: gcc --coverage, gcovr).

VARIANT   ?= release
B         := build/$(VARIANT)
GEN       := build/gen
CC        ?= cc
PKGS      := libzmq libprotobuf-c libsodium libmicrohttpd jansson
DEBS      := build-essential pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler \
             libprotobuf-dev protobuf-compiler liblmdb-dev lmdb-utils libev-dev libsodium-dev \
             libmicrohttpd-dev libjansson-dev libcmocka-dev clang libclang-rt-dev curl iproute2 python3-yaml \
             nodejs
# The browser test's Chromium: installed by deps like DEBS, but a machine
# that cannot have it still builds and tests everything else (the browser
# test is then skipped, with the reason). The font has Chinese glyphs, so that
# the test's screenshots show the non-Latin names the app displays.
BROWSER_DEBS := chromium fonts-wqy-microhei

CFLAGS_release := -O2 -g
CFLAGS_asan    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
CFLAGS_fuzz    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link
CFLAGS_coverage := -O0 -g --coverage -fprofile-update=atomic
LDFLAGS_asan   := -fsanitize=address,undefined
LDFLAGS_coverage := --coverage
LDFLAGS_fuzz   := -fsanitize=address,undefined

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -llmdb -lev -pthread
WARN      := -std=c11 -Wall -Wextra -Werror -Wno-unused-parameter -D_GNU_SOURCE
CPPFLAGS  += -Icommon -I$(GEN) -Itests/fuzz -Itests/unit -MMD -MP
ALL_CFLAGS = $(WARN) $(CFLAGS_$(VARIANT)) $(PKG_CFLAGS) $(CPPFLAGS) $(EXTRA_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS_$(VARIANT))

PROTOS     := $(wildcard proto/*.proto)
PROTO_C    := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS)) $(GEN)/google/protobuf/field_mask.pb-c.c
PROTO_H    := $(PROTO_C:.c=.h)

COMMON_SRC := $(wildcard common/*.c)
LIB_OBJ    := $(patsubst %.c,$(B)/%.o,$(COMMON_SRC)) $(patsubst build/gen/%.c,$(B)/gen/%.o,$(PROTO_C))
LIB        := $(B)/libcrm.a

SERVICES   := identity pipeline activities notifications gateway
PROGRAMS   := $(foreach s,$(SERVICES),$(B)/crm-$(s)) $(B)/crmctl
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(UNIT_SRC))
SYS_SRC    := $(wildcard tests/system/test_*.c)
SYS_BIN    := $(patsubst tests/system/%.c,$(B)/tests/system/%,$(SYS_SRC))
SYS_LIB    := $(B)/tests/system/harness.o
SYS_TOOLS  := $(B)/tests/system/event-recorder
BENCH_SRC  := $(wildcard tests/bench/bench_*.c)
BENCH_BIN  := $(patsubst tests/bench/%.c,$(B)/tests/bench/%,$(BENCH_SRC))
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   := $(patsubst tests/fuzz/%.c,build/fuzz/tests/fuzz/%,$(FUZZ_SRC))

.PHONY: web web-deps all deps run test unit system fuzz fuzz-smoke bench soak coverage clean programs tests test-deploy
.SECONDARY:

all: deps
	@$(MAKE) --no-print-directory VARIANT=release programs web

programs: $(PROGRAMS)

tests: $(PROGRAMS) $(UNIT_BIN) $(SYS_BIN) $(SYS_TOOLS)

# Installs what is missing, non-interactively; apt-get update only when needed.
deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@missing=""; for p in $(BROWSER_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; echo "installing:$$missing"; \
	  $$SUDO apt-get update -qq; DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null || \
	  echo "$$missing could not be installed: the browser test will be skipped"; \
	fi
	@# Debian's npm, unless a nodejs that carries its own npm (NodeSource's) is installed
	@command -v npm >/dev/null || { SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; echo "installing: npm"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null; }
	@$(MAKE) --no-print-directory web-deps

# The web app's npm packages, exactly as package-lock.json has them; again
# only when the lock file changed since the last install.
web-deps:
	@if [ ! -e web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then \
	  echo "installing: web/ npm packages (npm ci)"; cd web && npm ci --no-audit --no-fund --loglevel=error; fi

# The web app (web/, TypeScript): generated client, type check, bundle with
# hashed names and their gzip'd copies in build/web (web/build.mjs).
WEB_SRC := $(shell find web/src -type f) web/build.mjs web/tsconfig.json web/package-lock.json
web: build/web/index.html
build/web/index.html: $(WEB_SRC) $(PROTOS)
	@echo "  WEB     build/web"
	@cd web && node build.mjs ../build/web

run: all
	@deploy/run-local.sh build/release

test: deps
	@$(MAKE) --no-print-directory VARIANT=asan tests web
	@if command -v clang >/dev/null; then $(MAKE) --no-print-directory VARIANT=fuzz CC=clang fuzz-bins; fi
	@tests/run.sh build/asan build/fuzz

fuzz-bins: $(FUZZ_BIN)

fuzz: deps
	@$(MAKE) --no-print-directory VARIANT=fuzz CC=clang fuzz-bins
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p build/corpus/$$n; \
	  echo "== $$n"; $$f -max_total_time=$${FUZZ_SECONDS:-120} build/corpus/$$n tests/fuzz/corpus/$$n 2>&1 | tail -3; done

# Docker image, docker-compose and a scenario on a Docker engine it starts
# itself (root; about 2 minutes): tests/deploy/test-deploy.sh.
test-deploy: deps
	@$(MAKE) --no-print-directory web
	@tests/deploy/test-deploy.sh

bench: deps
	@$(MAKE) --no-print-directory VARIANT=release programs $(patsubst build/asan/%,build/release/%,$(BENCH_BIN))
	@tests/bench/run.sh build/release

# The release programs for SOAK_SECONDS (600) under mixed traffic, kill -9
# of a random service every few seconds and hostile clients; not part of
# make test (tests/soak/soak.c).
soak: deps
	@$(MAKE) --no-print-directory VARIANT=release programs build/release/tests/soak/crm-soak
	@build/release/tests/soak/crm-soak --seconds $${SOAK_SECONDS:-600}

# Unit and system tests of a --coverage build, then line and branch
# coverage per module of common/ and services/ (tests/coverage/run.sh).
# gcovr is needed only here: installed like deps does, not in DEBS.
coverage: deps
	@command -v gcovr >/dev/null || { SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  echo "installing: gcovr"; $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends gcovr >/dev/null; }
	@$(MAKE) --no-print-directory VARIANT=coverage tests
	@tests/coverage/run.sh build/coverage

clean:
	rm -rf build

# --- generated protobuf-c code -------------------------------------------
$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)
	@echo "  PROTOC  $<"
	@protoc-c -Iproto -I/usr/include --c_out=$(GEN) $<

$(GEN)/google/protobuf/field_mask.pb-c.c $(GEN)/google/protobuf/field_mask.pb-c.h: /usr/include/google/protobuf/field_mask.proto
	@mkdir -p $(GEN)
	@echo "  PROTOC  $@"
	@protoc-c -I/usr/include --c_out=$(GEN) google/protobuf/field_mask.proto

# Every object waits for all generated headers, so -MMD needs no bootstrap.
$(B)/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/gen/%.o: $(GEN)/%.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	@$(CC) $(ALL_CFLAGS) -Wno-error -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	@ar rcs $@ $^

define service_rule
$(B)/crm-$(1): $(patsubst %.c,$(B)/%.o,$(wildcard services/$(1)/*.c)) $(LIB)
	@echo "  LD      $$@"
	@$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(PKG_LIBS) -lm
endef
$(foreach s,$(SERVICES),$(eval $(call service_rule,$(s))))

$(B)/crmctl: $(patsubst %.c,$(B)/%.o,$(wildcard services/crmctl/*.c)) $(LIB)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(B)/tests/unit/%: $(B)/tests/unit/%.o $(LIB)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka -lm

$(B)/tests/system/event-recorder: $(B)/tests/system/event_recorder.o $(LIB)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

$(B)/tests/system/test_%: $(B)/tests/system/test_%.o $(SYS_LIB) $(LIB)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka -lm

$(B)/tests/soak/crm-soak: $(B)/tests/soak/soak.o $(SYS_LIB) $(LIB)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka -lm

$(B)/tests/bench/%: $(B)/tests/bench/%.o $(LIB)
	@echo "  LD      $@"
	@$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

build/fuzz/tests/fuzz/%: build/fuzz/tests/fuzz/%.o $(LIB)
	@echo "  LD      $@"
	@$(CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(PKG_LIBS) -lm

-include $(shell find build -name '*.d' 2>/dev/null)
