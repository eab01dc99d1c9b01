"""The compute table names the CPU model: run times differ between CPU kinds (AMD EPYC, Intel Xeon)."""

from __future__ import annotations

import platform

from crossalign.experiments.measure import cpu_model


def test_cpu_model_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9B14\nflags\t\t: fpu\n\n"
                    "processor\t: 1\nmodel name\t: AMD EPYC 9B14\n")
    assert cpu_model(info) == "AMD EPYC 9B14"
    info.write_text("processor\t: 0\nmodel name\t:\n")  # an empty name, as on some VMs: the architecture instead
    assert cpu_model(info) == (platform.processor() or platform.machine())
    assert cpu_model(tmp_path / "absent") == (platform.processor() or platform.machine())
