"""Prints oslo-config-generator's sample of the oslo.messaging namespace,
for the test of `oslo-messaging config sample`."""
import sys

from oslo_config import generator

sys.exit(generator.main(['--namespace', 'oslo.messaging']))
