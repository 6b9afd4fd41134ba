"""Working on a picture together: conversation mode and saved pictures (#names)."""

from __future__ import annotations

from bot.i18n import Text, ngettext
from bot.i18n import gettext as _

__all__ = [
    "AVATAR_NEEDS_USERNAME",
    "AVATAR_PRIVATE",
    "MODE_CHAT",
    "MODE_SINGLE",
    "MODE_USAGE",
    "NEW_THREAD",
    "NO_PROFILE_PHOTO",
    "REFS_NONE",
    "REF_GONE",
    "REF_GROUP_ONLY",
    "REF_NEEDS_PHOTO",
    "REF_NOT_YOURS",
    "REF_USAGE",
    "avatar_shared",
    "ref_bad_name",
    "ref_deleted",
    "ref_not_found",
    "ref_saved",
    "refs_full",
    "refs_list",
    "unknown_refs",
]

NEW_THREAD = Text("Your next message starts a new conversation.")
MODE_CHAT = Text(
    "Conversation mode: each message continues the conversation, with its earlier turns, "
    "until /new."
)
MODE_SINGLE = Text(
    "Single mode: each message is a request of its own. "
    "Reply to one of my pictures to continue its conversation."
)
MODE_USAGE = Text("Send /mode chat for a conversation, or /mode single for separate requests.")


REF_USAGE = Text(
    "Save a picture: reply to it with /ref add NAME (or send it with that caption), then write "
    "#NAME in a prompt to use it. #me is your profile photo.\n"
    "/refs - your saved pictures, with delete buttons\n"
    "/ref del NAME - delete one\n"
    "/ref group NAME - a picture for everyone in this group (its administrators)\n"
    "/ref avatar on - others may use your profile photo as #yourusername (off: nobody)"
)
REF_NEEDS_PHOTO = Text("Reply to a photo with /ref add NAME, or send the photo with that caption.")
REF_GROUP_ONLY = Text("Group pictures are saved in the group: send /ref group NAME there.")
REFS_NONE = Text("No saved pictures yet. Reply to a photo with /ref add NAME to save one.")
REF_GONE = Text("That saved picture is already gone.")
REF_NOT_YOURS = Text("Only its owner, or the group's administrators for a group's, can delete it.")
AVATAR_NEEDS_USERNAME = Text(
    "Others would write #yourusername to use your profile photo, and you have no Telegram "
    "username. Set one in Telegram's settings first."
)
AVATAR_PRIVATE = Text("Nobody else can use your profile photo now.")
NO_PROFILE_PHOTO = Text(
    "I can't see a profile photo of yours, so #me has nothing to attach and I sent nothing."
)


def ref_bad_name(given: str) -> str:
    return _(
        "“{name}” can't be a name: use up to 32 letters, digits or _, starting with a letter "
        "(and not “me”, which is your profile photo)."
    ).format(name=given)


def ref_saved(name: str) -> str:
    return _("Saved as #{name}. Write #{name} in a prompt to use it.").format(name=name)


def ref_deleted(name: str) -> str:
    return _("Deleted #{name}.").format(name=name)


def ref_not_found(name: str) -> str:
    return _("You have no picture saved as #{name}.").format(name=name)


def refs_full(most: int) -> str:
    return ngettext(
        "You already have {n} saved picture, the most I keep. Delete one with /refs first.",
        "You already have {n} saved pictures, the most I keep. Delete one with /refs first.",
        most,
    ).format(n=most)


def refs_list(names: list[str]) -> str:
    return _("Saved pictures: {names}\nTap one below to delete it.").format(names=" ".join(names))


def avatar_shared(username: str) -> str:
    return _("Others can now use your profile photo by writing #{username}.").format(
        username=username
    )


def unknown_refs(names: list[str], known: list[str]) -> str:
    """`#names` that attach nothing; nothing was sent."""
    if names == ["#me"]:
        return NO_PROFILE_PHOTO()
    if not known:
        return _(
            "I have no picture called {names}, so I sent nothing. Save one by replying to a photo "
            "with /ref add NAME; #me is your profile photo."
        ).format(names=", ".join(names))
    return _(
        "I have no picture called {names}, so I sent nothing. Yours here: {known}; #me is your "
        "profile photo."
    ).format(names=", ".join(names), known=" ".join(f"#{k}" for k in known))
