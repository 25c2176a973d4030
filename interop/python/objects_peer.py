#!/usr/bin/python3
"""oslo.versionedobjects peers for the Go objects package's interop tests.

    objects_peer.py server --url URL --topic T --server S --versions new|old
        [--indirection-topic C] [--conductor]
    objects_peer.py client --url URL --topic T --versions new
        [--indirection-topic C] scenario ...

Objects are Nova-like (serial namespace "nova_object", project "nova") and
mirror interop/objects_test.go. With --versions new: Flavor 1.1, Tag 1.0,
Instance 1.3 (1.1: locked; 1.2: Flavor 1.1, tags; 1.3: key_data,
memory_mb an integer instead of a string). With --versions old: Flavor 1.0, Instance 1.1.

The server serves, at version 1.0 (null namespace):
    echo_instance(instance)   -> instance, after printing what it received
    update_instance(instance) -> instance with host, launched_at and progress
                                 set, after printing what it received
and with --conductor, at version 3.0, nova-conductor's
    object_backport_versions(objinst, object_versions)
With --indirection-topic, objects this process cannot take are backported by
the conductor on that topic (NovaObject.indirection_api).

The client runs scenarios against a server of the interop objects service
and prints one JSON line per scenario.
"""

import argparse
import datetime
import os

import netaddr
import oslo_messaging
from oslo_utils import versionutils
from oslo_versionedobjects import base
from oslo_versionedobjects import fields

import interop_common as common


class NovaObject(base.VersionedObject):
    OBJ_SERIAL_NAMESPACE = 'nova_object'
    OBJ_PROJECT_NAMESPACE = 'nova'


class NovaObjectSerializer(base.VersionedObjectSerializer):
    OBJ_BASE_CLASS = NovaObject


VM_STATES = ['active', 'building', 'stopped', 'error']


def instance_fields():
    """The fields Instance 1.1 and 1.3 share."""
    return {
        'id': fields.IntegerField(),
        'uuid': fields.UUIDField(),
        'host': fields.StringField(nullable=True),
        'vm_state': fields.EnumField(VM_STATES, default='building'),
        'launched_at': fields.DateTimeField(nullable=True),
        'locked': fields.BooleanField(),
        'progress': fields.FloatField(nullable=True),
        'access_ip_v4': fields.IPV4AddressField(nullable=True),
        'access_ip_v6': fields.IPV6AddressField(nullable=True),
        'metadata': fields.DictOfStringsField(),
        'system_metadata': fields.DictOfNullableStringsField(),
        'numa_nodes': fields.SetOfIntegersField(),
        'flavor': fields.ObjectField('Flavor', nullable=True),
    }


def define_new():
    @base.VersionedObjectRegistry.register
    class Flavor(NovaObject):
        VERSION = '1.1'
        fields = {
            'id': fields.IntegerField(),
            'name': fields.StringField(),
            'memory_mb': fields.IntegerField(),
            'extra_specs': fields.DictOfStringsField(),
        }

        def obj_make_compatible(self, primitive, target_version):
            super().obj_make_compatible(primitive, target_version)
            if versionutils.convert_version_to_tuple(target_version) < (1, 1):
                primitive.pop('extra_specs', None)

    @base.VersionedObjectRegistry.register
    class Tag(NovaObject):
        VERSION = '1.0'
        fields = {
            'tag': fields.StringField(),
            'resource_id': fields.StringField(),
        }

    @base.VersionedObjectRegistry.register
    class Instance(NovaObject):
        VERSION = '1.3'
        fields = dict(instance_fields(),
                      memory_mb=fields.IntegerField(),
                      tags=fields.ListOfObjectsField('Tag'),
                      key_data=fields.StringField(nullable=True))
        obj_relationships = {
            'flavor': [('1.0', '1.0'), ('1.2', '1.1')],
            'tags': [('1.2', '1.0')],
        }

        def obj_make_compatible(self, primitive, target_version):
            super().obj_make_compatible(primitive, target_version)
            tv = versionutils.convert_version_to_tuple(target_version)
            if tv < (1, 3):
                primitive.pop('key_data', None)
                if primitive.get('memory_mb') is not None:
                    primitive['memory_mb'] = str(primitive['memory_mb'])
            if tv < (1, 2):
                primitive.pop('tags', None)


def define_old():
    @base.VersionedObjectRegistry.register
    class Flavor(NovaObject):
        VERSION = '1.0'
        fields = {
            'id': fields.IntegerField(),
            'name': fields.StringField(),
            'memory_mb': fields.IntegerField(),
        }

    @base.VersionedObjectRegistry.register
    class Instance(NovaObject):
        VERSION = '1.1'
        fields = dict(instance_fields(), memory_mb=fields.StringField())
        obj_relationships = {'flavor': [('1.0', '1.0'), ('1.1', '1.0')]}


def classes():
    return base.VersionedObjectRegistry.obj_classes()


def py_types(obj):
    """The Python type of every set field, for the Go tests to check the
    coercions."""
    out = {}
    for name in sorted(obj.fields):
        if obj.obj_attr_is_set(name):
            v = getattr(obj, name)
            t = type(v).__name__
            if isinstance(v, datetime.datetime):
                t += '/' + str(v.utcoffset())
            out[name] = t
    return out


def describe(obj):
    """What the Go tests check of a received object."""
    if not isinstance(obj, base.VersionedObject):
        return {'not_an_object': repr(obj)}
    d = {
        'name': obj.obj_name(),
        'version': obj.VERSION,
        'changed': sorted(obj.obj_what_changed()),
        'primitive': obj.obj_to_primitive(),
        'types': py_types(obj),
    }
    if 'flavor' in obj and obj.flavor is not None:
        d['flavor'] = {'version': obj.flavor.VERSION,
                       'changed': sorted(obj.flavor.obj_what_changed())}
    if 'tags' in obj:
        d['tags'] = [{'version': t.VERSION, 'tag': t.tag} for t in obj.tags]
    return d


class ConductorAPI(base.VersionedObjectIndirectionAPI):
    """nova.conductor.rpcapi.ConductorAPI's object_backport_versions."""

    def __init__(self, transport, topic):
        target = oslo_messaging.Target(topic=topic, version='3.0')
        self.client = oslo_messaging.get_rpc_client(
            transport, target, serializer=NovaObjectSerializer())

    def object_backport_versions(self, context, objinst, object_versions):
        common.emit(event='backport_request', objinst=objinst,
                    object_versions=object_versions)
        return self.client.call(context, 'object_backport_versions',
                                objinst=objinst,
                                object_versions=object_versions)


class ObjectsEndpoint(object):
    target = oslo_messaging.Target(version='1.0')

    def echo_instance(self, ctxt, instance):
        common.emit(event='received', method='echo_instance',
                    object=describe(instance))
        return instance

    def update_instance(self, ctxt, instance):
        common.emit(event='received', method='update_instance',
                    object=describe(instance))
        instance.host = 'py-host'
        instance.launched_at = datetime.datetime(
            2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
        instance.progress = 0.5
        return instance


class ConductorEndpoint(object):
    """nova.conductor.manager.ConductorManager's object backports."""
    target = oslo_messaging.Target(version='3.0')

    def object_backport_versions(self, ctxt, objinst, object_versions):
        common.emit(event='backport', name=objinst.obj_name(),
                    version=objinst.VERSION, object_versions=object_versions)
        target = object_versions[objinst.obj_name()]
        return objinst.obj_to_primitive(target_version=target,
                                        version_manifest=object_versions)


def full_instance():
    """An Instance with every field type set, all changes reset, then
    vm_state changed."""
    C = classes()
    Instance, Flavor, Tag = C['Instance'][0], C['Flavor'][0], C['Tag'][0]
    inst = Instance(
        id=42, uuid='d4e5f6a7-0000-4000-8000-000000000042', host=None,
        vm_state='building',
        launched_at=datetime.datetime(
            2024, 1, 2, 3, 4, 5, 123456,
            tzinfo=datetime.timezone(datetime.timedelta(hours=2), '+02:00')),
        memory_mb=2048, locked=True, progress=None,
        access_ip_v4=netaddr.IPAddress('192.0.2.10'),
        access_ip_v6=netaddr.IPAddress('2001:db8::10'),
        metadata={'role': 'db', 'tier': '1'},
        system_metadata={'image_os': 'debian', 'owner': None},
        numa_nodes={0, 1, 3},
        flavor=Flavor(id=7, name='m1.small', memory_mb=2048,
                      extra_specs={'hw:cpu_policy': 'dedicated'}),
        tags=[Tag(tag='prod', resource_id='r1'),
              Tag(tag='eu', resource_id='r1')],
        key_data=None)
    inst.obj_reset_changes(recursive=True)
    inst.vm_state = 'active'
    return inst


def canon_primitive(p):
    """A primitive with its changes lists sorted (oslo writes them from a
    set) and sets' lists sorted, for comparing."""
    if isinstance(p, dict):
        out = {}
        for k, v in p.items():
            if k.endswith('.changes'):
                out[k] = sorted(v)
            elif k == 'numa_nodes' and isinstance(v, (list, tuple)):
                out[k] = sorted(v)
            else:
                out[k] = canon_primitive(v)
        return out
    if isinstance(p, (list, tuple)):
        return [canon_primitive(v) for v in p]
    return p


def run_scenario(name, client):
    ctxt = {'request_id': 'req-objects', 'user': 'u1'}
    try:
        if name == 'echo':
            inst = full_instance()
            sent = inst.obj_to_primitive()
            got = client.call(ctxt, 'echo_instance', instance=inst)
            return dict(same=canon_primitive(sent) ==
                        canon_primitive(got.obj_to_primitive()),
                        sent=sent, object=describe(got))
        if name == 'update':
            got = client.call(ctxt, 'update_instance', instance=full_instance())
            return dict(object=describe(got),
                        launched_at=got.launched_at.isoformat(),
                        host=got.host, progress=got.progress)
        if name == 'echo_nested_containers':
            inst = full_instance()
            got = client.call(ctxt, 'echo_instance',
                              instance=inst)
            return dict(flavor_name=got.flavor.name,
                        tags=[t.tag for t in got.tags],
                        flavor_extra=got.flavor.extra_specs)
        raise ValueError('unknown scenario %s' % name)
    except Exception as e:
        return dict(error=common.describe_exception(e))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('role', choices=['server', 'client'])
    common.add_common_args(parser)
    parser.add_argument('--server', help='server name (server role)')
    parser.add_argument('--versions', choices=['new', 'old'], default='new')
    parser.add_argument('--indirection-topic',
                        help='conductor topic for backports')
    parser.add_argument('--conductor', action='store_true',
                        help='also serve object_backport_versions')
    parser.add_argument('scenarios', nargs='*')
    args = parser.parse_intermixed_args()

    conf = common.configure(args)
    (define_new if args.versions == 'new' else define_old)()
    transport = oslo_messaging.get_rpc_transport(
        conf, url=args.url,
        allowed_remote_exmods=['oslo_versionedobjects.exception'])
    if args.indirection_topic:
        NovaObject.indirection_api = ConductorAPI(transport,
                                                  args.indirection_topic)
    serializer = NovaObjectSerializer()

    if args.role == 'server':
        endpoints = [ObjectsEndpoint()]
        if args.conductor:
            endpoints.append(ConductorEndpoint())
        target = oslo_messaging.Target(topic=args.topic, server=args.server)
        server = oslo_messaging.get_rpc_server(
            transport, target, endpoints, executor='threading',
            serializer=serializer)
        server.start()
        common.emit(event='ready', server=args.server, pid=os.getpid())
        common.wait_for_stdin_eof()
        common.exit_now()

    target = oslo_messaging.Target(topic=args.topic, version='1.0')
    client = oslo_messaging.get_rpc_client(transport, target,
                                           serializer=serializer, timeout=30)
    for name in args.scenarios:
        common.emit(scenario=name, **run_scenario(name, client))
    common.exit_now()


if __name__ == '__main__':
    main()
