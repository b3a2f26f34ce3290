# asgimaster: build, test, run, sanitizers, bench, install.
# One binary, ./asgimaster. The master's objects (master/, common/) never see
# Python's headers; only worker/asgi*.c and worker/pyembed.c get them.

PYTHON      ?= /usr/bin/python3
PYCONFIG    ?= $(PYTHON)-config
PREFIX      ?= /usr/local
DESTDIR     ?=
BUILD       ?= build
CC          ?= cc
BIN         ?= asgimaster

PY_CFLAGS   := $(shell $(PYCONFIG) --includes 2>/dev/null)
PY_LDFLAGS  := $(shell $(PYCONFIG) --embed --ldflags 2>/dev/null)
# The interpreter embedded: its version and where its libpython is (a
# pyenv or /opt build is found at run time through the rpath).
PY_VERSION  := $(shell $(PYTHON) -c 'import platform; print(platform.python_version())' 2>/dev/null)
PY_LIBDIR   := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR") or "")' 2>/dev/null)
PY_SHARED   := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("Py_ENABLE_SHARED") or 0)' 2>/dev/null)
comma       := ,
PY_RPATH    := $(if $(filter /usr/lib%,$(PY_LIBDIR)),,$(if $(PY_LIBDIR),-Wl$(comma)-rpath$(comma)$(PY_LIBDIR)))
# Changing PYTHON rebuilds what depends on it: the stamp holds the path and
# the version, and is rewritten only when they change.
PY_STAMP    := $(BUILD)/python.stamp

OPT         ?= -O2 -g
CFLAGS_BASE := -std=gnu11 $(OPT) -Wall -Wextra -Werror -Wno-unused-parameter \
               -Wshadow -Wpointer-arith -Wstrict-prototypes -fno-strict-aliasing \
               -D_GNU_SOURCE -I. -MMD -MP
CFLAGS      += $(CFLAGS_BASE) $(SAN)
LDLIBS      := -lyaml -lnghttp2 -lssl -lcrypto -lz $(PY_LDFLAGS)

MASTER_SRC  := $(wildcard master/*.c) $(wildcard common/*.c)
WORKER_SRC  := $(wildcard worker/*.c)
MASTER_OBJ  := $(MASTER_SRC:%.c=$(BUILD)/%.o)
WORKER_OBJ  := $(WORKER_SRC:%.c=$(BUILD)/%.o)
COMMON_OBJ  := $(filter $(BUILD)/common/%,$(MASTER_OBJ))
UNIT_SRC    := $(wildcard tests/unit/*/test_*.c)
UNIT_BIN    := $(UNIT_SRC:%.c=$(BUILD)/%)

.PHONY: all run test unit-test asan asan-test install uninstall clean deps bench fuzz \
        format format-check lint check-deps

all: $(BIN)

$(BIN): $(MASTER_OBJ) $(WORKER_OBJ) $(PY_STAMP)
	$(CC) $(CFLAGS) -o $@ $(filter %.o,$^) $(LDFLAGS) $(PY_RPATH) $(LDLIBS)

$(PY_STAMP): FORCE
	@mkdir -p $(dir $@)
	@if [ -z "$(PY_VERSION)" ]; then \
	    echo "asgimaster: PYTHON=$(PYTHON) does not run" >&2; exit 1; fi
	@if [ "$(PY_SHARED)" != 1 ] || [ -z "$(PY_LDFLAGS)" ]; then \
	    echo "asgimaster: PYTHON=$(PYTHON) ($(PY_VERSION)) has no shared libpython or no '$(PYCONFIG) --embed': build one with --enable-shared" >&2; exit 1; fi
	@echo '$(PYTHON) $(PY_VERSION)' | cmp -s - $@ || \
	    echo '$(PYTHON) $(PY_VERSION)' > $@

.PHONY: FORCE
FORCE:

PY_OBJ      := $(filter $(BUILD)/worker/asgi% $(BUILD)/worker/pyembed.o,$(WORKER_OBJ))
$(PY_OBJ): CFLAGS += $(PY_CFLAGS)
$(PY_OBJ) $(BUILD)/master/venv_check.o: $(PY_STAMP)
$(BUILD)/master/venv_check.o: CFLAGS += -DAM_PYTHON_EXE='"$(PYTHON)"' \
    -DAM_PYTHON_VERSION='"$(PY_VERSION)"'
$(BUILD)/worker/pyembed.o: CFLAGS += -I$(BUILD) -DAM_PYTHON_EXE='"$(PYTHON)"'
$(BUILD)/worker/pyembed.o: $(BUILD)/worker/runtime_py.h

# nghttp2 protections backported to Debian's 1.52 are found by linking a
# probe, not by version (issue 4): the rapid-reset limit and the
# CONTINUATION cap.
h2probe = $(shell printf '\043include <nghttp2/nghttp2.h>\nint main(void){nghttp2_option *o; nghttp2_option_new(&o); %s; return 0;}\n' '$(1)' | $(CC) -x c - -o /dev/null -lnghttp2 >/dev/null 2>&1 && echo $(2))
H2_DEFS    := $(call h2probe,nghttp2_option_set_stream_reset_rate_limit(o, 1, 1),-DAM_HAVE_NGHTTP2_RESET_RATE_LIMIT) \
              $(call h2probe,nghttp2_option_set_max_continuations(o, 8),-DAM_HAVE_NGHTTP2_MAX_CONTINUATIONS)
$(filter-out $(PY_OBJ),$(WORKER_OBJ)): CFLAGS += $(H2_DEFS)

# worker/runtime.py is compiled into the binary as a C string.
$(BUILD)/worker/runtime_py.h: worker/runtime.py
	@mkdir -p $(dir $@)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# C unit tests mirror the source folders: tests/unit/DIR/test_*.c links
# UNIT_OBJ_DIR and UNIT_LIBS_DIR. tests/unit/common/ links common/ alone;
# tests/unit/worker/ links the worker's objects without the Python ones
# (the bridge and the embedding) and common/: adjust UNIT_OBJ_worker when
# a worker test needs fakes instead of real objects.
UNIT_OBJ_common  := $(COMMON_OBJ)
UNIT_LIBS_common := -lyaml
# The worker's pure parts: the HTTP/1.1 parser and the WebSocket codec.
UNIT_OBJ_worker  := $(addprefix $(BUILD)/worker/,h1_parser.o utf8.o \
                      ws_frame.o ws_message.o ws_deflate.o ws_handshake.o) \
                    $(COMMON_OBJ)
UNIT_LIBS_worker := -lyaml -lz -lcrypto
unit_dir = $(firstword $(subst /, ,$(1)))

.SECONDEXPANSION:
$(BUILD)/tests/unit/%: tests/unit/%.c $$(UNIT_OBJ_$$(call unit_dir,$$*))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(UNIT_EXTRA) $(UNIT_OBJ_$(call unit_dir,$*)) \
	    $(UNIT_LIBS_$(call unit_dir,$*)) $(UNIT_LIBS)

# libFuzzer targets for the parsers that see hostile bytes first. Targets
# that need the config loader link all of common/ (no Python, no OpenSSL).
COMMON_SRC_FOR_FUZZ := $(wildcard common/*.c)

# Worker tests of the request layer link the HTTP vocabulary, the request
# layer and the log prefix too (no ASGI bridge: each test fakes what it
# does not link); the HTTP/1.1 head test drives the request side over the
# real parser (worker/h1_parser.c), the HTTP/2 stream test nghttp2.
WORKER_UNIT_OBJ := $(addprefix $(BUILD)/worker/,http.o request.o ctx.o connlog.o)
WORKER_UNIT_BIN := $(addprefix $(BUILD)/tests/unit/worker/,test_http \
                     test_request test_http1_head test_http2_stream)
$(WORKER_UNIT_BIN): $(WORKER_UNIT_OBJ)
$(WORKER_UNIT_BIN): UNIT_EXTRA = $(WORKER_UNIT_OBJ)
H1_UNIT_OBJ := $(addprefix $(BUILD)/worker/,http1_request.o h2c.o)
$(BUILD)/tests/unit/worker/test_http1_head: $(H1_UNIT_OBJ)
$(BUILD)/tests/unit/worker/test_http1_head: UNIT_EXTRA = $(H1_UNIT_OBJ) \
                                                         $(WORKER_UNIT_OBJ)
H2_UNIT_OBJ := $(BUILD)/worker/http2_stream.o
$(BUILD)/tests/unit/worker/test_http2_stream: $(H2_UNIT_OBJ)
$(BUILD)/tests/unit/worker/test_http2_stream: UNIT_EXTRA = $(H2_UNIT_OBJ) \
                                                           $(WORKER_UNIT_OBJ)
$(BUILD)/tests/unit/worker/test_http2_stream: UNIT_LIBS = -lnghttp2
$(BUILD)/tests/unit/worker/test_http2_mem: $(BUILD)/worker/http2_mem.o
$(BUILD)/tests/unit/worker/test_http2_mem: UNIT_EXTRA = $(BUILD)/worker/http2_mem.o
$(BUILD)/tests/unit/worker/test_http2_mem: UNIT_LIBS = -lnghttp2

FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=undefined -D_GNU_SOURCE -I. -Wall -Wextra -Werror
$(BUILD)/fuzz/fuzz_proxy: tests/fuzz/fuzz_proxy.c common/proxy.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^
$(BUILD)/fuzz/fuzz_forwarded: tests/fuzz/fuzz_forwarded.c common/forwarded.c \
                           common/cidr.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^
# The worker's protocol code behind a real connection, with a fake ASGI
# bridge (no Python): HTTP/1.1, and HTTP/2 by preface or h2c Upgrade.
FUZZ_HTTP_SRC := tests/fuzz/fuzz_http1.c worker/http1.c worker/http2.c \
                 worker/accept.c worker/conn.c worker/connlog.c worker/ctx.c \
                 worker/http.c worker/request.c worker/http1_request.c \
                 worker/h1_parser.c \
                 worker/http1_response.c worker/h2c.c worker/metrics.c \
                 worker/http2_stream.c worker/http2_response.c worker/http2_mem.c \
                 worker/ws.c worker/ws_h1.c worker/http2_ws.c \
                 worker/ws_frame.c worker/ws_message.c worker/ws_deflate.c \
                 worker/ws_handshake.c worker/utf8.c \
                 worker/event.c $(COMMON_SRC_FOR_FUZZ)
$(BUILD)/fuzz/fuzz_http1: $(FUZZ_HTTP_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Wno-unused-parameter $(H2_DEFS) -o $@ $^ \
	    -lnghttp2 -lyaml -lz -lcrypto
# The HTTP/1.1 request parser, differential on segmentation.
$(BUILD)/fuzz/fuzz_h1_parser: tests/fuzz/fuzz_h1_parser.c worker/h1_parser.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^
# The config loader on hostile YAML.
FUZZ_CONF_SRC := tests/fuzz/fuzz_conf.c $(COMMON_SRC_FOR_FUZZ)
$(BUILD)/fuzz/fuzz_conf: $(FUZZ_CONF_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^ -lyaml
# The WebSocket codec: frames, messages, UTF-8, deflate, handshake values.
FUZZ_WS_SRC := tests/fuzz/fuzz_ws.c worker/utf8.c worker/ws_frame.c \
               worker/ws_message.c worker/ws_deflate.c worker/ws_handshake.c \
               common/core.c common/log.c
$(BUILD)/fuzz/fuzz_ws: $(FUZZ_WS_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^ -lz -lcrypto
FUZZ_TIME ?= 30
FUZZ_BINS := $(BUILD)/fuzz/fuzz_proxy $(BUILD)/fuzz/fuzz_forwarded \
             $(BUILD)/fuzz/fuzz_http1 $(BUILD)/fuzz/fuzz_conf \
             $(BUILD)/fuzz/fuzz_h1_parser $(BUILD)/fuzz/fuzz_ws
# Replays every regression input first (each crasher found so far), then
# fuzzes each target for FUZZ_TIME seconds.
fuzz: $(FUZZ_BINS)
	$(BUILD)/fuzz/fuzz_http1 -runs=1 $(filter-out %.md,$(wildcard tests/fuzz/regress/*))
	@for f in $^; do n=$$(basename $$f); mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	    seed=tests/fuzz/corpus/$${n#fuzz_}; [ -d $$seed ] || seed=; \
	    $$f -max_total_time=$(FUZZ_TIME) -timeout=10 $(BUILD)/fuzz/corpus-$$n $$seed || exit 1; done

# Receive-path throughput of the WebSocket codec (docs/ARCHITECTURE.md, "WebSocket").
WS_OBJ := $(addprefix $(BUILD)/worker/,utf8.o ws_frame.o ws_message.o \
            ws_deflate.o ws_handshake.o)
$(BUILD)/bench/bench_ws: tests/bench/bench_ws.c $(WS_OBJ) $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(WS_OBJ) $(COMMON_OBJ) -lyaml -lz -lcrypto
.PHONY: bench-ws
bench-ws: $(BUILD)/bench/bench_ws
	$(BUILD)/bench/bench_ws

deps:
	@scripts/install-deps.sh $(DEPS_FLAGS)

run: deps
	@$(MAKE) --no-print-directory all
	./$(BIN) -c conf/server.yaml

unit-test: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do $$t; done

test: DEPS_FLAGS = --test
test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit-test
	ASGIMASTER_BIN=$(CURDIR)/$(BIN) $(PYTHON) -m pytest -q tests/integration $(PYTEST_ARGS)

# The same suite on an ASan/UBSan build, kept apart in build-asan/.
asan: DEPS_FLAGS = --test
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g" \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    BIN=asgimaster-asan asgimaster-asan

asan-test: asan
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g" \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	    unit-test
	ASGIMASTER_BIN=$(CURDIR)/asgimaster-asan PYTHONMALLOC=malloc \
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1 \
	    $(PYTHON) -m pytest -q tests/integration $(PYTEST_ARGS)

$(BUILD)/bench/ws_load: tests/bench/ws_load.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

bench: DEPS_FLAGS = --bench
bench: deps all $(BUILD)/bench/ws_load
	scripts/bench.sh

# The Python package goes where the embedded interpreter looks for
# PREFIX's packages (Debian: PREFIX/lib/python3.X/dist-packages).
PYSITEDIR   ?= $(shell $(PYTHON) -c 'import sysconfig; s = sysconfig.get_path("purelib", vars={"base": "@P@", "platbase": "@P@"}); print(s.replace("@P@/local/", "@P@/", 1))' 2>/dev/null | sed 's|@P@|$(PREFIX)|')
UNITDIR     ?= $(PREFIX)/lib/systemd/system
PY_PKG      := python/asgimaster/__init__.py python/asgimaster/__main__.py

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man8 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PYSITEDIR)/asgimaster \
	    $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/asgimaster
	install -m 0644 man/asgimaster.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 man/asgimaster.yaml.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 $(PY_PKG) $(DESTDIR)$(PYSITEDIR)/asgimaster/
	printf '# written by make install\nBIN = "%s"\n' \
	    '$(PREFIX)/bin/asgimaster' > $(DESTDIR)$(PYSITEDIR)/asgimaster/_installed.py
	sed 's|/usr/local/bin/asgimaster|$(PREFIX)/bin/asgimaster|' \
	    conf/asgimaster.service > $(DESTDIR)$(UNITDIR)/asgimaster.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/asgimaster.service

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/asgimaster \
	    $(DESTDIR)$(PREFIX)/share/man/man8/asgimaster.8 \
	    $(DESTDIR)$(PREFIX)/share/man/man5/asgimaster.yaml.5 \
	    $(DESTDIR)$(UNITDIR)/asgimaster.service
	rm -rf $(DESTDIR)$(PYSITEDIR)/asgimaster

format:
	clang-format -i $(MASTER_SRC) $(WORKER_SRC) $(wildcard */*.h) $(UNIT_SRC)

format-check:
	clang-format --dry-run --Werror $(MASTER_SRC) $(WORKER_SRC) \
	    $(wildcard */*.h) $(UNIT_SRC)

# clang-tidy (.clang-tidy) with each file's build flags: Python's includes
# for the bridge, the nghttp2 probes for http2.c.
TIDY_FLAGS  := -std=gnu11 -Wall -Wextra -Wno-unused-parameter -D_GNU_SOURCE -I.
TIDY_PY     := $(PY_CFLAGS) -I$(BUILD) -DAM_PYTHON_EXE='"$(PYTHON)"'
TIDY_SRC    ?= $(MASTER_SRC) $(WORKER_SRC) $(UNIT_SRC)

# The man pages, the include layering (scripts/check-layering.py) and
# clang-tidy: every step runs, and the target fails if any found something.
lint: $(BUILD)/worker/runtime_py.h
	@rc=0; \
	echo "lint: mandoc"; \
	mandoc -Tlint -Wwarning man/asgimaster.8 man/asgimaster.yaml.5 || rc=1; \
	echo "lint: layering"; \
	$(PYTHON) scripts/check-layering.py || rc=1; \
	echo "lint: clang-tidy"; bad=""; \
	for f in $(TIDY_SRC); do \
	    case $$f in \
	    worker/asgi*.c|worker/pyembed.c) \
	        clang-tidy --quiet $$f -- $(TIDY_FLAGS) $(TIDY_PY) 2>/dev/null ;; \
	    worker/http2.c) \
	        clang-tidy --quiet $$f -- $(TIDY_FLAGS) $(H2_DEFS) 2>/dev/null ;; \
	    *)  clang-tidy --quiet $$f -- $(TIDY_FLAGS) 2>/dev/null ;; \
	    esac || bad="$$bad $$f"; \
	done; \
	if [ -n "$$bad" ]; then \
	    echo "lint: clang-tidy findings in:$$bad"; rc=1; \
	else \
	    echo "lint: clang-tidy: no findings"; \
	fi; \
	exit $$rc

clean:
	rm -rf build build-asan asgimaster asgimaster-asan

-include $(MASTER_OBJ:.o=.d) $(WORKER_OBJ:.o=.d) $(UNIT_BIN:=.d)
