"""One function per user action, split by concept; views and the CLI only translate to and from these."""
from counterflow.service.approvals import ApprovalActions
from counterflow.service.attachments import AttachmentActions
from counterflow.service.audit import AuditActions
from counterflow.service.backups import BackupActions
from counterflow.service.base import ServiceBase
from counterflow.service.bootstrap import BootstrapActions
from counterflow.service.disposal import DisposalActions
from counterflow.service.forms import FormActions
from counterflow.service.grants import GrantActions
from counterflow.service.identity import IdentityActions
from counterflow.service.records import RecordActions
from counterflow.service.status import StatusActions
from counterflow.service.tick import TickActions
from counterflow.service.users import UserActions
from counterflow.service.workflows import WorkflowActions
from counterflow.service.worklists import WorklistActions


class Service(BackupActions, DisposalActions,
              TickActions, ApprovalActions, GrantActions, WorklistActions, BootstrapActions,
              IdentityActions, UserActions, FormActions, WorkflowActions, RecordActions, AttachmentActions,
              StatusActions, AuditActions, ServiceBase):
    """The product's actions over one store; safe to share between request threads."""


__all__ = ["Service"]
