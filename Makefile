# amber — build, test and run. README.md has the two commands a new user needs.
#
# Rooms and what they build (each folder's sources are found by wildcard):
#   protocol/*.c          -> libamberwire.a     (protocol/*_main.c: programs)
#   agent/*.c agent/lua/*.c -> libamber-agent.a/.so, amber.so (Lua module), amber-lua
#   server/*.c            -> libamberserver.a, amber
#   tests/unit/test_*.c   -> one cmocka program each; tests/e2e/*.sh, tests/xs/*.sh: end to end
#   bench/bench_*.c       -> benchmark programs driven by bench/run
# Files named *_main.c hold a program's main(); *_module.c a Lua module's luaopen.

BUILD    ?= build
PREFIX   ?= /usr/local
CC       ?= cc
OPT      ?= -O2
WERROR   ?= 0
SANITIZE ?= 0

PKGS     := libwebsockets expat sqlite3 lua5.4
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) cmocka 2>/dev/null)
LUA_LIBS := $(shell pkg-config --libs lua5.4 2>/dev/null)
WIRE_LIBS := $(shell pkg-config --libs expat 2>/dev/null)
SERVER_LIBS := $(shell pkg-config --libs libwebsockets sqlite3 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN     += -Werror
endif
ifeq ($(SANITIZE),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT      := -O1
endif
# DWARF 4: Debian's valgrind (3.19) cannot read the DWARF 5 clang writes.
CFLAGS   ?= $(OPT) -g -gdwarf-4
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -fPIC $(WARN) $(SANFLAGS) $(CFLAGS) \
             -Iprotocol -Iagent -Iagent/lua -Iserver $(PKG_CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)

programs = $(filter %_main.c,$(1))
modules  = $(filter %_module.c,$(1))
library  = $(filter-out %_main.c %_module.c,$(1))
objs     = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

WIRE_SRC   := $(wildcard protocol/*.c)
AGENT_SRC  := $(wildcard agent/*.c agent/lua/*.c)
SERVER_SRC := $(wildcard server/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
BENCH_SRC  := $(wildcard bench/bench_*.c)

WIRE_LIB   := $(BUILD)/libamberwire.a
AGENT_LIB  := $(BUILD)/libamber-agent.a
AGENT_SO   := $(BUILD)/libamber-agent.so
SERVER_LIB := $(BUILD)/libamberserver.a
LUA_MODULE := $(BUILD)/lua/amber.so

# amber-wire, amber-lua, amber: one program per *_main.c, named after the
# file with _main dropped and underscores turned into dashes.
prog_name = $(BUILD)/$(subst _,-,$(patsubst %_main,%,$(notdir $(basename $(1)))))
WIRE_PROGS   := $(foreach f,$(call programs,$(WIRE_SRC)),$(call prog_name,$(f)))
AGENT_PROGS  := $(foreach f,$(call programs,$(AGENT_SRC)),$(call prog_name,$(f)))
SERVER_PROGS := $(foreach f,$(call programs,$(SERVER_SRC)),$(call prog_name,$(f)))
UNIT_PROGS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BENCH_PROGS  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

ALL_LIBS = $(SERVER_LIB) $(AGENT_LIB) $(WIRE_LIB)
LINK_ALL = $(ALL_LIBS) $(SERVER_LIBS) $(WIRE_LIBS) $(LUA_LIBS) -lm -lpthread

.SECONDARY:
.PHONY: all deps test check unit e2e asan fuzz bench run install clean help
all: $(WIRE_LIB) $(WIRE_PROGS) $(AGENT_LIB) $(AGENT_SO) $(LUA_MODULE) $(AGENT_PROGS) \
     $(SERVER_LIB) $(SERVER_PROGS) $(BUILD)/amber-agent.pc

help:
	@echo "make            build everything into $(BUILD)/"
	@echo "make run        install what is missing, then the demo: server + Lua program + snapshot"
	@echo "make test       install what is missing, build, run every test"
	@echo "make check      run every test (no installs)"
	@echo "make asan       the whole suite under ASan + UBSan (build-asan/)"
	@echo "make fuzz       libFuzzer targets for FUZZ_SECONDS (default 60) each"
	@echo "make bench      benchmarks; writes bench/results.md"
	@echo "make install PREFIX=/usr/local"

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

$(WIRE_LIB): $(call objs,$(call library,$(WIRE_SRC)))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(AGENT_LIB): $(call objs,$(call library,$(AGENT_SRC)))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SERVER_LIB): $(call objs,$(call library,$(SERVER_SRC)))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The shared agent carries the wire code inside it, so hosts link one library.
$(AGENT_SO): $(call objs,$(call library,$(AGENT_SRC)) $(call library,$(WIRE_SRC)))
	$(CC) -shared $(LDFLAGS_ALL) -o $@ $^ $(WIRE_LIBS) $(LUA_LIBS) -lm

# The Lua module takes Lua's symbols from the interpreter that loads it.
$(LUA_MODULE): $(call objs,$(call modules,$(AGENT_SRC))) $(AGENT_LIB) $(WIRE_LIB)
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS_ALL) -o $@ $(call objs,$(call modules,$(AGENT_SRC))) \
	  $(AGENT_LIB) $(WIRE_LIB) $(WIRE_LIBS) -lm

$(BUILD)/amber-wire: $(BUILD)/obj/protocol/amber_wire_main.o $(WIRE_LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(WIRE_LIBS)

$(BUILD)/amber-lua: $(BUILD)/obj/agent/lua/amber_lua_main.o $(AGENT_LIB) $(WIRE_LIB)
	$(CC) $(LDFLAGS_ALL) -Wl,-E -o $@ $^ $(WIRE_LIBS) $(LUA_LIBS) -lm -ldl

$(BUILD)/amber: $(BUILD)/obj/server/amber_main.o $(ALL_LIBS)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(LINK_ALL)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -Wl,-E -o $@ $< $(LINK_ALL) $(CMOCKA_LIBS) -ldl

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -Wl,-E -o $@ $< $(LINK_ALL) -ldl

$(BUILD)/amber-agent.pc: agent/amber-agent.pc.in
	@mkdir -p $(dir $@)
	sed -e 's|@PREFIX@|$(PREFIX)|g' $< > $@

# ---- set-up -------------------------------------------------------------

deps:
	@bash .ci/deps

# ---- tests --------------------------------------------------------------

test: deps
	$(MAKE) all
	$(MAKE) check

check: all $(UNIT_PROGS)
	@BUILD=$(BUILD) bash tests/run

unit: all $(UNIT_PROGS)
	@BUILD=$(BUILD) bash tests/run unit

e2e: all $(UNIT_PROGS)
	@BUILD=$(BUILD) bash tests/run e2e

asan: deps
	$(MAKE) BUILD=build-asan SANITIZE=1 all
	$(MAKE) BUILD=build-asan SANITIZE=1 check

FUZZ_SECONDS ?= 60
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
fuzz: deps
	@BUILD=build-fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run $(FUZZ_SRC)

bench: deps
	$(MAKE) BUILD=build-bench all $(patsubst $(BUILD)/%,build-bench/%,$(BENCH_PROGS))
	@BUILD=build-bench bash bench/run

# ---- the demo -------------------------------------------------------------

run: deps
	$(MAKE) all
	@BUILD=$(BUILD) bash server/demo/run

# ---- install ------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	  $(DESTDIR)$(PREFIX)/include/amber $(DESTDIR)$(PREFIX)/lib/lua/5.4 \
	  $(DESTDIR)$(PREFIX)/share/amber/viewer
	install -m 755 $(WIRE_PROGS) $(AGENT_PROGS) $(SERVER_PROGS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(AGENT_LIB) $(WIRE_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(AGENT_SO) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LUA_MODULE) $(DESTDIR)$(PREFIX)/lib/lua/5.4/
	install -m 644 agent/amber.h $(DESTDIR)$(PREFIX)/include/amber/
	install -m 644 $(BUILD)/amber-agent.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	if [ -n "$$(ls viewer 2>/dev/null)" ]; then cp -r viewer/. $(DESTDIR)$(PREFIX)/share/amber/viewer/; fi

clean:
	rm -rf build build-asan build-fuzz build-bench

# ---- tests/xs: the real XS peer -------------------------------------------
# xs_peer drives a real xsnap (built by tests/xs/build-xsnap) through
# protocol/wire.h only; tests/xs/xs_peer.sh runs it from `make check`.
XS_PEER_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/xs/*.c))
$(BUILD)/tests/xs_peer: $(XS_PEER_OBJS) $(WIRE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(WIRE_LIBS)
check e2e: $(BUILD)/tests/xs_peer
