"""Folkgen: folk melody generation with Beam preprocessing, Keras training and TF-Serving-style serving."""
from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    "tensorflow==2.21.*",
    "keras>=3.10,<4",
    "tensorboard==2.21.*",
    "apache-beam[tfrecord]==2.77.*",
    "tensorflow-datasets==4.9.*",
    "tensorflow-serving-api==2.21.*",
    "grpcio>=1.60,<2",
    "music21==10.*",
    "verovio>=6,<7",
    "matplotlib>=3.7,<4",
    "mido>=1.3,<2",
    "numpy>=1.26,<3",
    "rich>=13,<16",
    "pyyaml>=6,<7",
    # The REST API and the web page: a maintained WSGI server (bounded thread pool, backlog, timeouts).
    "waitress>=3,<4",
]

EXTRAS_REQUIRE = {
    # Beam's gs:// file system and the DataflowRunner: where a Dataflow job is launched (trainer/Dockerfile).
    "gcp": ["apache-beam[gcp]==2.77.*"],
    "dev": [
        "pytest>=8,<10",
        "hypothesis>=6,<7",
        "pretty-midi>=0.2.11,<0.3",
        "pillow>=10",
        # Browser tests drive Debian's chromium through its chromedriver (no browser download).
        "selenium>=4.20,<5",
    ],
}

setup(
    name="folkgen",
    version="0.1.0",
    description="Generate folk melodies with deep learning: Beam preprocessing, Keras models, TF Serving.",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["preprocessing", "preprocessing.*", "trainer", "trainer.*", "serving", "serving.*"]),
    package_data={"serving": ["models.config"], "serving.page": ["static/*", "static/vendor/abcjs/*"]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
    entry_points={"console_scripts": ["folkgen=serving.cli:main"]},
)
