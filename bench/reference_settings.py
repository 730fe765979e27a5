"""The production settings, serving the reference views instead of the site's routes."""
from prompt_site.settings import *  # noqa: F403

ROOT_URLCONF = "bench.reference"
