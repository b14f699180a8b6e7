"""Random scalar control-flow programs: ember.script against the plain Python function."""

from hypothesis import given

import ember.testing as et


@given(et.script_programs())
@et.fuzz_settings(fast=30, long=2000)
def test_script_programs_match_python(program):
    et.check_script_program(program)
