"""The service's exceptions, as nova.exception: Go clients match them by
module (compute_errors) and class name, and read their kwargs."""


class ComputeError(Exception):
    msg_fmt = 'An unknown exception occurred.'

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        super().__init__(message or self.msg_fmt % kwargs)


class InstanceNotFound(ComputeError):
    msg_fmt = 'Instance %(instance_id)s could not be found.'
