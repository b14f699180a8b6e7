// The two command-line tools report their versions and those of what they are built on.

// RUN: ember-opt --version | filecheck %s --check-prefix=OPT
// OPT: ember-opt {{[0-9.]+}} (xdsl 0.74.0)

// RUN: ember --version | filecheck %s --check-prefix=EMBER
// EMBER: ember {{[0-9.]+}} (xdsl 0.74.0, llvmlite 0.50.0, numpy {{[0-9.]+}})

// RUN: not ember no-such-command 2>&1 | filecheck %s --check-prefix=BADCMD
// BADCMD: ember: error: argument COMMAND: invalid choice: 'no-such-command' (choose from 'demo', 'cache')
