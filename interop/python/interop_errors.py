"""An application exception module, as nova.exception or
trove.common.exception: its module and class name travel on the wire.

The exceptions follow the usual OpenStack pattern: a message format filled
from keyword arguments, which oslo sends as the failure's kwargs.
"""


class InteropError(Exception):
    msg_fmt = 'An unknown exception occurred.'

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if not message:
            message = self.msg_fmt % kwargs
        super().__init__(message)


class VolumeNotFound(InteropError):
    msg_fmt = 'Volume %(volume_id)s could not be found.'
