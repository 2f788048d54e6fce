from django.db import migrations

REEXAMINE = "flows/flows.AppealFlow.reexamine"
OPEN = ("NEW", "ASSIGNED", "STARTED")


def to_the_appeal_permission(apps, schema_editor):
    """Open re-examinations ask for the appeal's own permission on the appeal's
    organisation (granted to the HR officers by points 0008):

    - those waiting in HR's queue asked for the shop's ``handle_redemption``;
    - those assigned to a person before the queue existed asked for none, so they could not
      be given back (a task with no queue permission is nobody's once given back), and one
      assigned to its own appellant was stuck with him."""
    content_type = apps.get_model("contenttypes", "ContentType").objects.get_or_create(
        app_label="points", model="organisation"
    )[0]
    schema_editor.execute(
        "UPDATE viewflow_task SET owner_permission = %s"
        " WHERE owner_permission = %s AND flow_task = %s",
        ["points.reexamine_appeal", "points.handle_redemption", REEXAMINE],
    )
    schema_editor.execute(
        "UPDATE viewflow_task SET owner_permission = %s,"
        " owner_permission_content_type_id = %s,"
        " owner_permission_obj_pk = (SELECT CAST(a.organisation_id AS VARCHAR(255))"
        " FROM flows_appeal a WHERE a.process_id = viewflow_task.process_id)"
        " WHERE flow_task = %s AND status IN (%s, %s, %s)"
        " AND (owner_permission IS NULL OR owner_permission = '')"
        " AND EXISTS (SELECT 1 FROM flows_appeal a WHERE a.process_id = viewflow_task.process_id)",
        ["points.reexamine_appeal", content_type.pk, REEXAMINE, *OPEN],
    )


def back(apps, schema_editor):
    schema_editor.execute(
        "UPDATE viewflow_task SET owner_permission = %s"
        " WHERE owner_permission = %s AND flow_task = %s",
        ["points.handle_redemption", "points.reexamine_appeal", REEXAMINE],
    )


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("flows", "0007_api_idempotency"),
        ("points", "0008_reexamine_appeal_permission"),
        ("viewflow", "0015_task_scheduled"),
    ]

    operations = [migrations.RunPython(to_the_appeal_permission, back)]
