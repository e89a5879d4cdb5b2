"""Build hook: compiles the small clock interposer that makes aihwkit's C++ RNG seedable.

Everything else about the package is declared in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "analog_tt._clockshim",
            sources=["analog_tt/_clockshim.cpp"],
            language="c++",
            extra_compile_args=["-O2", "-std=c++17"],
            extra_link_args=["-ldl"],
            optional=True,  # without a C++ compiler the package still installs (not bit-reproducible)
        )
    ]
)
